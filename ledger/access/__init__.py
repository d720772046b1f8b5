"""Who may do what: scoped API keys, customer capability secrets, secret hashing."""
