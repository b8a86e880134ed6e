"""Booklets from stock to beneficiary: print runs and allocation to distributing structures,
issuance and assignment, cancellation and replacement, validity; the pseudonymous
beneficiaries who receive them and their data rights.
"""
