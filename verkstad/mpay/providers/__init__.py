"""Payment provider adapters (Vipps, Swish, Stripe, Resurs) and the SMS gateway client."""
