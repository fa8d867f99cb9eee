"""What handlers and flows share: CallbackData factories, StatesGroups, keyboard builders."""
