"""Typed ids so that a shop id can't be passed where an agent id is expected."""

from typing import NewType

ShopId = NewType("ShopId", int)
AccountId = NewType("AccountId", int)
GroupId = NewType("GroupId", int)
ConsumerId = NewType("ConsumerId", int)
ConversationId = NewType("ConversationId", int)
