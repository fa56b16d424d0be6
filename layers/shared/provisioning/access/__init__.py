"""Access: workspaces and folders, group and direct grants, and the effective access they give."""
