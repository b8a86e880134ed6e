"""What the JSON API and the pages share: who is calling (authentication), route guards, the one
map from domain error codes to HTTP statuses (JSON and HTML), file downloads, background jobs.
"""
