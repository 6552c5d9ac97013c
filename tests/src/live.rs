//! A WebSocket client of gateway-api's live feed (wire doc §4), for tests and the benchmarks.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Bytes read from the socket at a time (see [`LiveClient::connect_with_events`]).
const READ_BUFFER: usize = 8 * 1024;

pub type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

pub struct LiveClient {
    pub socket: Socket,
}

impl LiveClient {
    /// Connects to `ws://<addr>/events/<query>` (`query` empty or starting with `?`) and sends the
    /// auth message.
    pub async fn connect(addr: &str, token: &str, query: &str) -> anyhow::Result<Self> {
        Self::connect_with_events(addr, token, query, true).await
    }

    /// Like [`LiveClient::connect`], with `msg_groups.ws_events` as given.
    pub async fn connect_with_events(addr: &str, token: &str, query: &str, ws_events: bool) -> anyhow::Result<Self> {
        // tungstenite zero-fills the free part of its read buffer before every read, the one that
        // finds the socket empty included: at its default 128 KiB that memset was over half of the
        // 1 000-client benchmark's CPU (P5, docs/benchmarks.md). Frames are a few KiB; a longer one
        // takes several reads.
        let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
        let url = format!("ws://{addr}/events/{query}");
        // Nagle off, as in a browser: a pong or filters message goes out at once.
        let disable_nagle = true;
        let (mut socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), disable_nagle).await?;
        let auth = json!({"type": "auth", "data": {"token": token, "msg_groups": {"ws_events": ws_events}}});
        socket.send(Message::text(auth.to_string())).await?;
        Ok(Self { socket })
    }

    pub async fn send(&mut self, message: Value) -> anyhow::Result<()> {
        Ok(self.socket.send(Message::text(message.to_string())).await?)
    }

    /// The next frame that is not a `ping` (answered with `pong`), or an error when the socket
    /// closes or nothing comes within `deadline`.
    pub async fn next_frame(&mut self, deadline: Duration) -> anyhow::Result<Value> {
        let text = self.next_text(deadline).await?;
        Ok(serde_json::from_str(&text)?)
    }

    /// [`LiveClient::next_frame`] unparsed, for a caller that reads only a field or two of each
    /// frame (the 1 000-client benchmark, whose parsing competes with the services for the CPU).
    pub async fn next_text(&mut self, deadline: Duration) -> anyhow::Result<Utf8Bytes> {
        tokio::time::timeout(deadline, async {
            loop {
                match self.socket.next().await {
                    Some(Ok(Message::Text(text))) => {
                        // Server frames start `{"type":"<type>"`; only a ping needs a full parse.
                        if text.contains(r#""type":"ping""#) {
                            let frame: Value = serde_json::from_str(&text)?;
                            if frame["type"] == "ping" {
                                self.send(json!({"type": "pong", "data": frame["data"]})).await?;
                                continue;
                            }
                        }
                        return Ok(text);
                    }
                    Some(Ok(Message::Close(_))) | None => anyhow::bail!("the socket closed"),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.into()),
                }
            }
        })
        .await
        .map_err(|_| anyhow::anyhow!("no frame within {deadline:?}"))?
    }

    /// Reads what is left until the server closes the socket; returns how many text frames came.
    pub async fn drain_until_closed(&mut self, deadline: Duration) -> anyhow::Result<usize> {
        tokio::time::timeout(deadline, async {
            let mut frames = 0;
            loop {
                match self.socket.next().await {
                    Some(Ok(Message::Text(_))) => frames += 1,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return frames,
                    Some(Ok(_)) => {}
                }
            }
        })
        .await
        .map_err(|_| anyhow::anyhow!("the socket was still open after {deadline:?}"))
    }
}
