//! Decided blocks by range, for a node far behind its peers (`/btcr/<chain>/blocks/1`, a
//! request and one response on a stream of its own).
//!
//! ```text
//!  Status                  ─▶  Status { earliest, head }      (what the peer can serve)
//!  Range { from, count }   ─▶  Blocks [item, ...]             (consecutive from `from`)
//! ```
//!
//! The network carries items as opaque bytes: what an item holds (a block with its commit
//! certificate) and whether it is true is for the node to check. A request is at most
//! [`MAX_REQUEST_BYTES`]; a range is at most [`MAX_RANGE_BLOCKS`] items and a server stops
//! adding items at [`RANGE_BYTES`] (one item at least, if it has it); a response over
//! [`MAX_RESPONSE_BYTES`] is refused before it is decoded. A server reads at most
//! [`MAX_SERVING`] ranges from its store at once and answers an empty range when busy.

use std::io;

use async_trait::async_trait;
use bytes::Bytes;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;

/// Items a range holds at most.
pub const MAX_RANGE_BLOCKS: u32 = 256;
/// A server stops adding items to a range once it holds this many bytes.
pub const RANGE_BYTES: usize = 8 * 1024 * 1024;
/// The largest response a node reads (a range of items of at most 24 MiB each past the soft
/// limit); a block larger than that is left to the consensus engine's sync.
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;
/// The largest request.
pub const MAX_REQUEST_BYTES: usize = 16;
/// Ranges a node reads from its store at once for its peers.
pub const MAX_SERVING: usize = 4;

/// What a node asks a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockRequest {
    /// The blocks it can serve.
    Status,
    /// Up to `count` consecutive blocks from `from`.
    Range {
        /// The first block.
        from: u64,
        /// How many at most.
        count: u32,
    },
}

/// What a peer answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockResponse {
    /// It serves blocks `earliest..=head`.
    Status {
        /// Its earliest block beside genesis.
        earliest: u64,
        /// Its head.
        head: u64,
    },
    /// Consecutive items from the requested block; empty when it has none of them (or is
    /// busy).
    Blocks(Vec<Bytes>),
}

/// Where a node's answers come from (its store).
pub trait BlockSource: Send + Sync + 'static {
    /// The blocks it serves, `(earliest, head)`.
    fn status(&self) -> (u64, u64);
    /// Up to `count` consecutive items from block `from`, stopping once they hold
    /// `max_bytes` (one item at least, if there is one).
    fn blocks(&self, from: u64, count: u32, max_bytes: usize) -> Vec<Bytes>;
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockRequestError {
    /// The peer could not be reached, timed out, or closed the stream.
    #[error("peer did not answer: {0}")]
    NoAnswer(String),
    /// The peer answered something else than what was asked.
    #[error("peer answered out of turn: {0}")]
    Mismatch(String),
    /// The network stopped.
    #[error("the network stopped")]
    Stopped,
}

const STATUS: u8 = 0;
const RANGE: u8 = 1;
const BLOCKS: u8 = 1;

/// A request's bytes.
pub fn encode_request(request: &BlockRequest) -> Vec<u8> {
    match request {
        BlockRequest::Status => vec![STATUS],
        BlockRequest::Range { from, count } => {
            let mut out = Vec::with_capacity(13);
            out.push(RANGE);
            out.extend_from_slice(&from.to_be_bytes());
            out.extend_from_slice(&count.to_be_bytes());
            out
        }
    }
}

/// Reads a request; anything but the exact layout is refused.
pub fn decode_request(bytes: &[u8]) -> io::Result<BlockRequest> {
    match bytes {
        [STATUS] => Ok(BlockRequest::Status),
        [RANGE, rest @ ..] if rest.len() == 12 => {
            let from = u64::from_be_bytes(rest[..8].try_into().expect("8 bytes"));
            let count = u32::from_be_bytes(rest[8..].try_into().expect("4 bytes"));
            Ok(BlockRequest::Range { from, count })
        }
        _ => Err(invalid("malformed block request")),
    }
}

/// A response's bytes: a tag, then for a status two big-endian u64, for blocks a u32 count
/// and each item as a u32 length and its bytes.
pub fn encode_response(response: &BlockResponse) -> Vec<u8> {
    match response {
        BlockResponse::Status { earliest, head } => {
            let mut out = Vec::with_capacity(17);
            out.push(STATUS);
            out.extend_from_slice(&earliest.to_be_bytes());
            out.extend_from_slice(&head.to_be_bytes());
            out
        }
        BlockResponse::Blocks(items) => {
            let size: usize = items.iter().map(|i| i.len() + 4).sum();
            let mut out = Vec::with_capacity(5 + size);
            out.push(BLOCKS);
            out.extend_from_slice(&(items.len() as u32).to_be_bytes());
            for item in items {
                out.extend_from_slice(&(item.len() as u32).to_be_bytes());
                out.extend_from_slice(item);
            }
            out
        }
    }
}

/// Reads a response, checking each length against what is left before taking it.
pub fn decode_response(bytes: &Bytes) -> io::Result<BlockResponse> {
    let Some((&tag, rest)) = bytes.split_first() else {
        return Err(invalid("empty block response"));
    };
    match tag {
        STATUS if rest.len() == 16 => Ok(BlockResponse::Status {
            earliest: u64::from_be_bytes(rest[..8].try_into().expect("8 bytes")),
            head: u64::from_be_bytes(rest[8..].try_into().expect("8 bytes")),
        }),
        BLOCKS if rest.len() >= 4 => {
            let count = u32::from_be_bytes(rest[..4].try_into().expect("4 bytes"));
            if count > MAX_RANGE_BLOCKS {
                return Err(invalid("a range of more blocks than allowed"));
            }
            let mut at = 5;
            let mut items = Vec::with_capacity(count as usize);
            for _ in 0..count {
                let len = bytes
                    .get(at..at + 4)
                    .map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")) as usize)
                    .ok_or_else(|| invalid("a range cut short"))?;
                at += 4;
                if bytes.len() - at < len {
                    return Err(invalid("a range cut short"));
                }
                items.push(bytes.slice(at..at + len));
                at += len;
            }
            if at != bytes.len() {
                return Err(invalid("trailing bytes after a range"));
            }
            Ok(BlockResponse::Blocks(items))
        }
        _ => Err(invalid("malformed block response")),
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// Reads all of `io` up to `limit` bytes; more is an error, found before it is kept.
async fn read_limited<T: AsyncRead + Unpin + Send>(
    io: &mut T,
    limit: usize,
) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    io.take(limit as u64 + 1).read_to_end(&mut out).await?;
    if out.len() > limit {
        return Err(invalid("message over the size limit"));
    }
    Ok(out)
}

/// The protocol's codec.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BlockCodec;

#[async_trait]
impl libp2p::request_response::Codec for BlockCodec {
    type Protocol = StreamProtocol;
    type Request = BlockRequest;
    type Response = BlockResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<BlockRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        decode_request(&read_limited(io, MAX_REQUEST_BYTES).await?)
    }

    async fn read_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<BlockResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        decode_response(&Bytes::from(read_limited(io, MAX_RESPONSE_BYTES).await?))
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: BlockRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&encode_request(&request)).await?;
        io.close().await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: BlockResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&encode_response(&response)).await?;
        io.close().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_responses_encode_to_what_decodes() {
        for request in
            [BlockRequest::Status, BlockRequest::Range { from: 7, count: MAX_RANGE_BLOCKS }]
        {
            assert_eq!(decode_request(&encode_request(&request)).unwrap(), request);
        }
        let items = vec![Bytes::from_static(b"one"), Bytes::new(), Bytes::from(vec![9u8; 1000])];
        for response in [
            BlockResponse::Status { earliest: 3, head: u64::MAX },
            BlockResponse::Blocks(items),
            BlockResponse::Blocks(Vec::new()),
        ] {
            let bytes = Bytes::from(encode_response(&response));
            assert_eq!(decode_response(&bytes).unwrap(), response);
        }
    }

    #[test]
    fn malformed_messages_are_refused_before_anything_is_allocated_for_them() {
        for bad in [&[][..], &[2], &[STATUS, 0], &[RANGE, 0, 0, 0], &[RANGE; 14]] {
            assert!(decode_request(bad).is_err(), "{bad:?}");
        }
        // A count over the limit, a length past the end, trailing bytes, a short status.
        let mut too_many = vec![BLOCKS];
        too_many.extend_from_slice(&(MAX_RANGE_BLOCKS + 1).to_be_bytes());
        let mut past_end = vec![BLOCKS, 0, 0, 0, 1];
        past_end.extend_from_slice(&u32::MAX.to_be_bytes());
        past_end.extend_from_slice(b"abc");
        let mut trailing = encode_response(&BlockResponse::Blocks(vec![Bytes::from_static(b"x")]));
        trailing.push(0);
        for bad in [too_many, past_end, trailing, vec![STATUS; 9], vec![], vec![7]] {
            let error = decode_response(&Bytes::from(bad.clone())).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_message_over_the_limit_is_refused_while_read() {
        let big = [BLOCKS; MAX_REQUEST_BYTES + 1];
        let error = read_limited(&mut &big[..], MAX_REQUEST_BYTES).await.unwrap_err();
        assert!(error.to_string().contains("size limit"), "{error}");
        let fits = read_limited(&mut &big[..MAX_REQUEST_BYTES], MAX_REQUEST_BYTES).await;
        assert_eq!(fits.unwrap().len(), MAX_REQUEST_BYTES);
    }
}
