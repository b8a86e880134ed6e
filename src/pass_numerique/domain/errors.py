"""One exception type for every refusal, carrying a stable machine code and a French message.

A refusal says what went wrong, never how to answer it: the HTTP layer maps each code to a
status (``http/errors.py``), the same for the JSON API and the pages.
"""

from __future__ import annotations

from typing import Any

# code -> French message by default. The codes are part of the API: never rename one.
MESSAGES: dict[str, str] = {
    "unknown_code": "Code inconnu : vérifiez la saisie ou scannez à nouveau.",
    "invalid_checksum": "Le code saisi contient une erreur de frappe (caractère de contrôle).",
    "invalid_code_format": "Ce n'est pas un code de chèque Pass numérique.",
    "already_redeemed": "Ce chèque a déjà été utilisé.",
    "cancelled": "Ce chèque a été annulé (carnet perdu, volé ou remplacé).",
    "expired": "Ce chèque a expiré.",
    "not_yet_valid": "Ce chèque n'est pas encore valable.",
    "not_issued": "Ce carnet n'a pas encore été remis à un bénéficiaire.",
    "site_not_accredited": "Ce lieu n'est pas habilité à encaisser des chèques aujourd'hui.",
    "forbidden": "Vous n'avez pas les droits pour cette action.",
    "not_authenticated": "Connexion requise.",
    "invalid_credentials": "Adresse e-mail ou mot de passe incorrect.",
    "too_many_attempts": "Trop de tentatives en peu de temps : patientez avant de réessayer.",
    "request_id_reused": (
        "Cet identifiant de requête a déjà servi pour une autre demande : "
        "recommencez l'opération (un nouvel identifiant sera créé)."
    ),
    "password_change_required": ("Votre mot de passe est temporaire : changez-le avant de continuer."),
    "not_found": "Élément introuvable.",
    "invalid_input": "Données invalides.",
    "invalid_theme": "Thème d'atelier non proposé par ce programme.",
    "duplicate": "Cet élément existe déjà.",
    "duplicate_voucher": "Le même chèque figure deux fois dans la demande.",
    "different_booklets": "Les chèques d'une même séance doivent venir du même carnet.",
    "invalid_state": "Cette action n'est pas possible dans l'état actuel.",
    "undo_window_passed": "Le délai d'annulation est dépassé : contactez votre coordinateur.",
    "period_closed": "La période de remboursement est clôturée.",
    "request_in_progress": "Cette demande est déjà en cours de traitement.",
    "not_enough_stock": "Pas assez de carnets en stock pour cette attribution.",
    "booklet_expired": "Ce carnet a expiré : aucun de ses chèques n'est utilisable aujourd'hui.",
    "nothing_to_replace": "Ce carnet n'a plus aucun chèque utilisable : il n'y a rien à remplacer.",
    "beneficiary_has_valid_booklet": (
        "Ce bénéficiaire a déjà un carnet valable : indiquez pourquoi il lui en faut un second."
    ),
    "redeemed_before_issue": "Cette utilisation est datée d'avant la remise du carnet au bénéficiaire.",
    "wrong_territory": "Ces carnets appartiennent à un autre territoire que celui de la structure.",
}
DEFAULT_MESSAGE = "Requête refusée."


class DomainError(Exception):
    """A refusal by the rules of the scheme; never a bug."""

    def __init__(self, code: str, message: str | None = None, **details: Any) -> None:
        self.code = code
        self.message = message or MESSAGES.get(code, DEFAULT_MESSAGE)
        self.details = details
        super().__init__(f"{code}: {self.message}")


def not_found(what: str = "Élément") -> DomainError:
    return DomainError("not_found", f"{what} introuvable.")
