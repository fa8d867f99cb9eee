"""Typed FSM data: each conversation keeps a small model in the FSM storage instead of a loose dict.

`load` reads it back; a key that is missing or of the wrong kind (the storage outlived a change, the
step was cleared by another flow, a stale button) ends the conversation with a specific message,
"this step has expired, start again with /xxx" (errors.flow.expired), instead of a KeyError that
would reach the person as the generic apology. Field names are the storage keys, unchanged, so a
conversation in progress carries on across a deploy."""
from __future__ import annotations

from typing import ClassVar, Self

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.errors import DomainError


class StepExpired(DomainError):
    def __init__(self, command: str) -> None:
        super().__init__("flow.expired", command=command)


class FlowData(BaseModel):
    """A flow's FSM data. Subclasses name their fields (the storage keys) and `COMMAND`, the command
    that starts the flow again."""

    model_config = ConfigDict(extra="ignore")
    COMMAND: ClassVar[str] = "/start"

    @classmethod
    async def load(cls, state: FSMContext) -> Self:
        try:
            return cls.model_validate(await state.get_data())
        except ValidationError:
            await state.clear()
            raise StepExpired(cls.COMMAND) from None

    @classmethod
    async def load_kept(cls, state: FSMContext) -> Self | None:
        """The data when it is there, None otherwise (for data kept after its flow, e.g. a search)."""
        try:
            return cls.model_validate(await state.get_data())
        except ValidationError:
            return None

    async def save(self, state: FSMContext) -> None:
        """Written beside what else the storage keeps (update)."""
        await state.update_data(self.model_dump())

    async def begin(self, state: FSMContext, step: State) -> None:
        """The flow starts at `step` with this data alone (replaces the storage's data)."""
        await state.set_state(step)
        await state.set_data(self.model_dump())

    async def expire(self, state: FSMContext) -> None:
        """Ends the flow with the expired message (a step found the data incomplete)."""
        await state.clear()
        raise StepExpired(self.COMMAND)
