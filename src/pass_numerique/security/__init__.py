"""Key and secret handling that the domain relies on but holds no rule of the scheme: password
hashing (argon2), the voucher signing keys on disk, the per-worker cache of bearer tokens.
"""
