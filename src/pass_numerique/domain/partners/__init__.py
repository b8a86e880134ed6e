"""The département's partners: accredited mediation sites (and their national open-data
standard) and the distributing structures that hand out booklets.
"""
