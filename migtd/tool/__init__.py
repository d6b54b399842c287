"""``migtd-tool``: offline helpers (quotes, policies, mock PKI)."""
