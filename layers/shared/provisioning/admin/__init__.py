"""The admin plane: organizations, tokens, settings, workspaces, folders and access, behind an
IAM-authorized JSON API and the `scimctl` command line."""
