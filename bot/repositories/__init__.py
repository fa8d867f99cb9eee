"""The only place with SQL: one module per aggregate, mixins composed into bot.store.Store."""
