"""Staff accounts: administration by the admins, sign-in with argon2 passwords, bearer tokens
for the API and browser sessions for the pages.
"""
