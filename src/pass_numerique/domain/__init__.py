"""The rules of the scheme, one package per bounded context; each public function opens its own
transaction, checks the actor's scope and returns msgspec structs.

Contexts: ``vouchers`` (codes), ``issuance`` (stock, booklets, beneficiaries), ``printing``,
``redemption``, ``partners`` (sites, structures), ``scheme`` (territories, programmes, value
lists), ``reimbursement``, ``reports``, ``accounts``. Shared by all: ``actors`` (who acts, the
system actor), ``errors`` (refusals by code), ``audit``, ``clock``, ``states`` and ``tables``
(the persistence model).
"""
