//! The transaction message: a count, then each raw transaction with its length (big-endian
//! `u32`s), within fixed limits.

use bytes::Bytes;

/// The largest message on the transaction topic.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;
/// The most transactions in one message.
pub const MAX_BATCH_TXS: usize = 512;
/// The largest raw transaction (the same limit the pool applies).
pub const MAX_TX_BYTES: usize = 128 * 1024;

/// A message that breaks the format or its limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// Larger than [`MAX_MESSAGE_BYTES`].
    #[error("message of {0} bytes exceeds {MAX_MESSAGE_BYTES}")]
    TooLarge(usize),
    /// More than [`MAX_BATCH_TXS`] transactions, or none.
    #[error("message holds {0} transactions (1 to {MAX_BATCH_TXS} allowed)")]
    Count(usize),
    /// A transaction larger than [`MAX_TX_BYTES`].
    #[error("transaction of {0} bytes exceeds {MAX_TX_BYTES}")]
    TxTooLarge(usize),
    /// The message ends early or has bytes left over.
    #[error("malformed message")]
    Malformed,
}

/// Encodes transactions into one message. The caller keeps within the limits.
pub fn encode_batch(transactions: &[Bytes]) -> Vec<u8> {
    let size = 4 + transactions.iter().map(|t| 4 + t.len()).sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&(transactions.len() as u32).to_be_bytes());
    for tx in transactions {
        out.extend_from_slice(&(tx.len() as u32).to_be_bytes());
        out.extend_from_slice(tx);
    }
    out
}

fn read_u32(data: &[u8], at: usize) -> Result<usize, BatchError> {
    let bytes = data.get(at..at + 4).ok_or(BatchError::Malformed)?;
    Ok(u32::from_be_bytes(bytes.try_into().expect("4 bytes")) as usize)
}

/// Decodes a message, checking every limit before it allocates. The transactions are
/// slices of `data`, not copies.
pub fn decode_batch(data: &Bytes) -> Result<Vec<Bytes>, BatchError> {
    if data.len() > MAX_MESSAGE_BYTES {
        return Err(BatchError::TooLarge(data.len()));
    }
    let n = read_u32(data, 0)?;
    if n == 0 || n > MAX_BATCH_TXS {
        return Err(BatchError::Count(n));
    }
    let mut out = Vec::with_capacity(n);
    let mut at = 4;
    for _ in 0..n {
        let len = read_u32(data, at)?;
        if len > MAX_TX_BYTES {
            return Err(BatchError::TxTooLarge(len));
        }
        at += 4;
        if data.len() < at + len {
            return Err(BatchError::Malformed);
        }
        out.push(data.slice(at..at + len));
        at += len;
    }
    if at != data.len() {
        return Err(BatchError::Malformed);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_round_trip_and_refuse_what_breaks_the_limits() {
        let txs = vec![Bytes::from_static(b"first"), Bytes::new(), Bytes::from(vec![7u8; 1000])];
        let encoded = encode_batch(&txs);
        assert_eq!(decode_batch(&Bytes::from(encoded.clone())), Ok(txs));
        for n in 0..encoded.len() {
            assert!(
                decode_batch(&Bytes::copy_from_slice(&encoded[..n])).is_err(),
                "a prefix of {n} bytes was accepted"
            );
        }
        let mut longer = encoded.clone();
        longer.push(0);
        assert_eq!(decode_batch(&Bytes::from(longer)), Err(BatchError::Malformed));
        assert_eq!(decode_batch(&Bytes::from(encode_batch(&[]))), Err(BatchError::Count(0)));
        let mut many = (MAX_BATCH_TXS as u32 + 1).to_be_bytes().to_vec();
        many.extend_from_slice(&[0; 8]);
        assert_eq!(decode_batch(&Bytes::from(many)), Err(BatchError::Count(MAX_BATCH_TXS + 1)));
        let mut huge = 1u32.to_be_bytes().to_vec();
        huge.extend_from_slice(&(u32::MAX).to_be_bytes());
        assert_eq!(
            decode_batch(&Bytes::from(huge)),
            Err(BatchError::TxTooLarge(u32::MAX as usize))
        );
        assert!(matches!(
            decode_batch(&Bytes::from(vec![0u8; MAX_MESSAGE_BYTES + 1])),
            Err(BatchError::TooLarge(_))
        ));
    }
}
