"""How the département sets up its scheme: territories, programmes (face value, vouchers per
booklet, validity, themes) and the national value lists.
"""
