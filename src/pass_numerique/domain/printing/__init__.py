"""Print-ready booklets: one booklet's PDF, and whole print runs rendered as background jobs
(the drawing itself is rendering/booklet_pdf.py).
"""
