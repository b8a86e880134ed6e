"""Static files served under /static: DSFR, jsQR, and our own CSS and JS (shipped in the package)."""
