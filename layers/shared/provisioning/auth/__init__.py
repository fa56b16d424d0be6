"""Bearer tokens: their format, issuing, storage as digests in Secrets Manager, and verification."""
