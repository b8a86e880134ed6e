"""Reimbursement of the sites: monthly periods, their closing, statements and payments."""
