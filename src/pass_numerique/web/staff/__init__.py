"""The staff pages: server-rendered HTML (Jinja + DSFR) for insertion staff and coordinators.

One module per area (account, desk, booklets, print runs...); ``layout`` holds what they share.
"""

from pass_numerique.web.staff.account import AccountPages, RootPage
from pass_numerique.web.staff.audit_log import AuditPages
from pass_numerique.web.staff.booklets import BookletPages
from pass_numerique.web.staff.desk import DeskPages
from pass_numerique.web.staff.print_runs import PrintRunPages
from pass_numerique.web.staff.reference_data import ReferenceDataPages
from pass_numerique.web.staff.reports import ReportPages
from pass_numerique.web.staff.sites import SitePages
from pass_numerique.web.staff.statements import StatementPages
from pass_numerique.web.staff.structures import StructurePages
from pass_numerique.web.staff.users import UserPages

PAGES = [
    AccountPages,
    DeskPages,
    BookletPages,
    PrintRunPages,
    ReportPages,
    StatementPages,
    SitePages,
    StructurePages,
    UserPages,
    ReferenceDataPages,
    AuditPages,
    RootPage,
]
