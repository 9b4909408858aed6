//! Catching up by ranges over the real transaction network, from an honest peer among
//! peers that lie: one sends bytes that are no block, one certifies the honest blocks with a
//! key that is not the validator's, one claims a far higher head and sends nothing.

use std::{sync::Arc, time::Duration};

use btcr_consensus::BlockPipeline;
use btcr_crypto::SecretKey;
use btcr_network::{BlockSource, Gossip, GossipConfig, TxSink, wait_for_peers};
use btcr_node::{Chain, catch_up, decode_certified, recompute_state_root};
use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use super::{CHAIN_ID, certificate, genesis, load, node, propose};

#[derive(Clone, Copy, Debug)]
enum Lie {
    Garbage,
    ForgedCertificates,
    Nothing,
}

struct Liar {
    honest: Arc<Chain>,
    lie: Lie,
    asked: std::sync::atomic::AtomicU32,
}

impl BlockSource for Liar {
    fn status(&self) -> (u64, u64) {
        match self.lie {
            Lie::Nothing => (1, 1_000_000),
            _ => self.honest.status(),
        }
    }

    fn blocks(&self, from: u64, count: u32, max_bytes: usize) -> Vec<Bytes> {
        self.asked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match self.lie {
            Lie::Garbage => vec![Bytes::from_static(b"not a block")],
            Lie::Nothing => Vec::new(),
            Lie::ForgedCertificates => {
                let forger = SecretKey::random();
                let items = self.honest.blocks(from, count, max_bytes);
                items
                    .iter()
                    .map(|item| {
                        let (block, _) = decode_certified(item).unwrap();
                        let mut out = alloy_rlp::encode(&block.header);
                        out.extend(alloy_rlp::encode(&block.body));
                        out.extend(alloy_rlp::encode(certificate(&forger, &block)));
                        Bytes::from(out)
                    })
                    .collect()
            }
        }
    }
}

async fn serve(
    seed: u8,
    sink: Arc<dyn TxSink>,
    source: Arc<dyn BlockSource>,
    bootstrap: Vec<String>,
) -> Gossip {
    let config = GossipConfig {
        chain_id: CHAIN_ID,
        secret: [seed; 32],
        listen: "/ip4/127.0.0.1/tcp/0".into(),
        bootstrap,
        max_peers: 16,
    };
    Gossip::start(config, sink, source, CancellationToken::new()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_catches_up_by_ranges_from_the_honest_peer_and_stops_asking_those_that_lie() {
    let validator = SecretKey::random();
    let genesis = genesis(&validator);
    let a = node(&genesis, &validator);
    load(&a.chain);
    for _ in 0..20 {
        let block = propose(&a.chain);
        a.chain.commit(block.hash(), certificate(&validator, &block)).unwrap();
    }
    let honest = serve(1, a.chain.clone(), a.chain.clone(), vec![]).await;
    let mut liars = Vec::new();
    let mut sources = Vec::new();
    for (seed, lie) in [(2, Lie::Garbage), (3, Lie::ForgedCertificates), (4, Lie::Nothing)] {
        let source = Arc::new(Liar { honest: a.chain.clone(), lie, asked: 0.into() });
        sources.push(source.clone());
        liars.push(serve(seed, a.chain.clone(), source, vec![]).await);
    }
    let b = node(&genesis, &validator);
    let asked = || -> Vec<u32> {
        sources.iter().map(|s| s.asked.load(std::sync::atomic::Ordering::Relaxed)).collect()
    };
    // Among liars only: each is asked for one round (four ranges at most), but the one
    // claiming more than it holds, asked until its third empty answer; nothing is applied,
    // and the node gives up on them.
    let addresses = |gossips: &[&Gossip]| -> Vec<String> {
        gossips.iter().map(|g| g.listen_addr().to_string()).collect()
    };
    let only_liars =
        serve(5, b.chain.clone(), b.chain.clone(), addresses(&[&liars[0], &liars[1], &liars[2]]))
            .await;
    assert!(wait_for_peers(&only_liars, 3, Duration::from_secs(20)).await, "peers connect");
    let run =
        catch_up(b.chain.clone(), only_liars.block_client(), Some(1), CancellationToken::new());
    tokio::time::timeout(Duration::from_secs(120), run).await.expect("in time").unwrap();
    assert_eq!(b.chain.head_header().number, 0);
    let first = asked();
    for ((source, n), (least, most)) in sources.iter().zip(&first).zip([(1, 4), (1, 4), (3, 12)]) {
        assert!((least..=most).contains(n), "{:?} asked {n} times", source.lie);
    }

    // With the honest peer among them: every block, from it.
    let gossip = serve(
        6,
        b.chain.clone(),
        b.chain.clone(),
        addresses(&[&honest, &liars[0], &liars[1], &liars[2]]),
    )
    .await;
    assert!(wait_for_peers(&gossip, 4, Duration::from_secs(20)).await, "peers connect");
    let run = catch_up(b.chain.clone(), gossip.block_client(), Some(1), CancellationToken::new());
    tokio::time::timeout(Duration::from_secs(120), run).await.expect("in time").unwrap();
    let head = a.chain.head_header();
    assert_eq!(b.chain.head_header(), head, "every block, from the honest peer");
    let snapshot = b.chain.store().snapshot().unwrap();
    assert_eq!(recompute_state_root(&snapshot).unwrap(), head.state_root);
    b.wait();
    for ((source, before), after) in sources.iter().zip(&first).zip(asked()) {
        assert!(
            after - before <= [4, 4, 12][source.lie as usize],
            "{:?} asked {after}",
            source.lie
        );
    }
}
