"""Earlier replies beyond this instance's ReplyCache: a re-sent request that comes here after
a restart, or from a client that was connected to another instance, is answered from them.

Writes find theirs in the database, stored with the write (usecase/receipts.py); publishes in
the memory the instances share (usecase/replies.py). Reads have none: they run again.
"""

from ...usecase.receipts import ReceiptStore, Request
from ...usecase.replies import Remembered, SharedReplies
from .protocol import encode, encode_error
from .replies import reused
from .router import Resend


class EarlierReplies:
    def __init__(self, receipts: ReceiptStore, shared: SharedReplies) -> None:
        self._receipts = receipts
        self._shared = shared

    async def find(self, request: Request, resend: Resend) -> str | None:
        """The first reply to `request`, or `conflict` if its id was used for another
        request; None when there was no first one."""
        if resend is Resend.RECEIPT:
            receipt = await self._receipts.find(request.subject, request.id)
            if receipt is None:
                return None
            asked, reply = receipt.request.digest, encode("ack", request.id, receipt.reply)
        elif resend is Resend.FIRST_REPLY_ANYWHERE:
            remembered = await self._shared.recall(request.subject, request.id)
            if remembered is None:
                return None
            asked, reply = remembered.digest, remembered.reply
        else:
            return None
        return reply if asked == request.digest else encode_error(request.id, reused(request.id))

    async def keep(self, request: Request, resend: Resend, reply: str) -> None:
        """Share `reply` with the other instances if the kind of request asks for it (a
        write's receipt is stored with the write instead)."""
        if resend is Resend.FIRST_REPLY_ANYWHERE:
            await self._shared.keep(request.subject, request.id, Remembered(request.digest, reply))
