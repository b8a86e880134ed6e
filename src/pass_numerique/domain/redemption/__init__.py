"""Redemption: a site agent looks up a voucher and redeems it for an atelier, exactly once, online
or from the offline queue; undo within the rules.
"""
