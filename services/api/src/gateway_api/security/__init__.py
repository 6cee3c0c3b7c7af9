"""Who is calling and what they may do: API keys, OIDC tokens, principals, rate limits."""
