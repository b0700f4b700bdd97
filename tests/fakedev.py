"""A scripted device on a loopback TCP port: answers INFO with the sizes a test chooses and
RUN with zeros, to reproduce firmware that lies about its layout without building any."""

from __future__ import annotations

import socket
import threading

from tinyrnn.harness import protocol as P


class FakeDevice:
    def __init__(self, model_hash: str, input_size: int, output_size: int, out_steps: int = 1):
        self.info = P.INFO_REPLY.pack(protocol_version=P.PROTOCOL_VERSION, kernel_abi=1,
                                      model_hash=bytes.fromhex(model_hash), tick_hz=0, max_payload=256,
                                      input_size=input_size, output_size=output_size, out_steps=out_steps, element_size=1, output_element_size=1,
                                      board=b"fake")  # fmt: skip
        self.output_size = output_size
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self._server.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _reply(self, ftype: int, payload: bytes) -> bytes:
        if ftype == P.FrameType.INFO:
            return self.info
        if ftype == P.FrameType.RUN:
            return P.TICKS_REPLY.pack(ticks=1, y=bytes(self.output_size) if payload[0] & P.RUN_LAST else b"")
        return b""

    def _serve(self) -> None:
        conn, _ = self._server.accept()
        buf = b""
        with conn:
            while chunk := conn.recv(4096):
                buf += chunk
                while (i := buf.find(P.SYNC)) >= 0 and len(buf) >= i + P.OVERHEAD:
                    ftype, seq, n = P.HEADER.unpack_from(buf, i + len(P.SYNC))
                    end = i + P.OVERHEAD + n
                    if len(buf) < end:
                        break
                    payload = buf[i + len(P.SYNC) + P.HEADER.size:end - P.CRC.size]
                    buf = buf[end:]
                    conn.sendall(P.encode_frame(P.reply_type(ftype), seq, self._reply(ftype, payload)))

    def close(self) -> None:
        self._server.close()
