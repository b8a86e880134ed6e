"""Voucher codes: the signed QR token, the typed short code with its check character, and parsing
whatever a phone scanned or an agent typed into one of them (docs/codes.md).
"""
