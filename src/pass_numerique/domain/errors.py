"""One exception type for every refusal, carrying a stable machine code and a French message."""

from __future__ import annotations

from typing import Any

# code -> (HTTP status, French message). The codes are part of the API: never rename one.
MESSAGES: dict[str, tuple[int, str]] = {
    "unknown_code": (404, "Code inconnu : vérifiez la saisie ou scannez à nouveau."),
    "invalid_checksum": (422, "Le code saisi contient une erreur de frappe (caractère de contrôle)."),
    "invalid_code_format": (422, "Ce n'est pas un code de chèque Pass numérique."),
    "already_redeemed": (409, "Ce chèque a déjà été utilisé."),
    "cancelled": (409, "Ce chèque a été annulé (carnet perdu, volé ou remplacé)."),
    "expired": (409, "Ce chèque a expiré."),
    "not_yet_valid": (409, "Ce chèque n'est pas encore valable."),
    "not_issued": (409, "Ce carnet n'a pas encore été remis à un bénéficiaire."),
    "site_not_accredited": (403, "Ce lieu n'est pas habilité à encaisser des chèques aujourd'hui."),
    "forbidden": (403, "Vous n'avez pas les droits pour cette action."),
    "not_authenticated": (401, "Connexion requise."),
    "invalid_credentials": (401, "Adresse e-mail ou mot de passe incorrect."),
    "too_many_attempts": (429, "Trop de tentatives de connexion : réessayez dans 15 minutes."),
    "not_found": (404, "Élément introuvable."),
    "invalid_input": (422, "Données invalides."),
    "invalid_theme": (422, "Thème d'atelier non proposé par ce programme."),
    "duplicate": (409, "Cet élément existe déjà."),
    "duplicate_voucher": (422, "Le même chèque figure deux fois dans la demande."),
    "different_booklets": (422, "Les chèques d'une même séance doivent venir du même carnet."),
    "invalid_state": (409, "Cette action n'est pas possible dans l'état actuel."),
    "undo_window_passed": (409, "Le délai d'annulation est dépassé : contactez votre coordinateur."),
    "period_closed": (409, "La période de remboursement est clôturée."),
    "request_in_progress": (409, "Cette demande est déjà en cours de traitement."),
    "not_enough_stock": (409, "Pas assez de carnets en stock pour cette attribution."),
}


class DomainError(Exception):
    """A refusal by the rules of the scheme; never a bug."""

    def __init__(self, code: str, message: str | None = None, **details: Any) -> None:
        status, default_message = MESSAGES.get(code, (400, "Requête refusée."))
        self.code = code
        self.status_code = status
        self.message = message or default_message
        self.details = details
        super().__init__(f"{code}: {self.message}")


def not_found(what: str = "Élément") -> DomainError:
    return DomainError("not_found", f"{what} introuvable.")
