"""People who sign in to the pages: accounts (argon2 password hashes, a TOTP second factor), their roles and the
scope each role sees, lock-out after repeated failures, and sessions in Redis with idle and absolute expiry."""
