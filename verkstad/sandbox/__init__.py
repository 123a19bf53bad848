"""A local emulator of the payment providers' HTTP APIs (Vipps, Swish, Stripe, Resurs) and an
SMS gateway, which also plays the customer's phone. See docs/sandbox.md.
"""
