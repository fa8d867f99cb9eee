"""What handlers and flows share, per area: CallbackData factories, StatesGroups, keyboard builders
(`*_kb`), and the few senders several of them use. Imports nothing from bot/handlers or bot/flows."""
