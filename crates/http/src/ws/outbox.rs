//! The bounded queue of events waiting to go out on one connection.
//!
//! The relay pushes, the connection's task takes. An idle connection's queue holds no allocation
//! (a tokio mpsc channel allocates about 800 bytes up front, a block of 32 slots included); the
//! queue grows with what is waiting, up to its capacity, and is freed again once emptied after a
//! burst.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use super::protocol::Frame;

/// The queue was full: the connection counts as too slow.
#[derive(Debug, PartialEq, Eq)]
pub struct Full;

/// Queued events of one connection, at most `capacity`.
#[derive(Debug)]
pub struct Outbox {
    /// A std mutex: held only to push or pop, never across an await.
    queue: Mutex<VecDeque<Arc<Frame>>>,
    capacity: usize,
    ready: Notify,
}

impl Outbox {
    pub fn new(capacity: usize) -> Self {
        Self {
            queue: Mutex::new(VecDeque::new()),
            capacity,
            ready: Notify::new(),
        }
    }

    fn queue(&self) -> MutexGuard<'_, VecDeque<Arc<Frame>>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues an event unless `capacity` are already waiting.
    pub fn try_send(&self, delivered: Arc<Frame>) -> Result<(), Full> {
        {
            let mut queue = self.queue();
            if queue.len() >= self.capacity {
                return Err(Full);
            }
            queue.push_back(delivered);
        }
        self.ready.notify_one();
        Ok(())
    }

    /// The next event, waiting for one if none is queued. Only the connection's own task calls
    /// this. Cancel safe: an event is taken out of the queue only when it is returned.
    pub async fn recv(&self) -> Arc<Frame> {
        loop {
            if let Some(delivered) = self.take() {
                return delivered;
            }
            // notify_one stores a permit when nobody waits, so a push between `take` and this
            // wait is not missed.
            self.ready.notified().await;
        }
    }

    fn take(&self) -> Option<Arc<Frame>> {
        let mut queue = self.queue();
        let delivered = queue.pop_front();
        if queue.is_empty() && queue.capacity() > 0 {
            // Give back what a burst made the queue grow to.
            *queue = VecDeque::new();
        }
        delivered
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use chrono::Utc;
    use dragoman_domain::UserId;
    use dragoman_ports::{Audience, Delivered, Event};

    fn event(id: u64) -> Arc<Frame> {
        Arc::new(Frame::of(&Delivered {
            id: Some(id),
            event: Event {
                audience: Audience::User(UserId(uuid::Uuid::nil())),
                kind: "status.changed",
                at: Utc::now(),
                data: serde_json::json!({}),
            },
        }))
    }

    #[tokio::test]
    async fn events_come_out_in_order_and_a_full_queue_refuses() {
        let outbox = Outbox::new(2);
        assert_eq!(outbox.try_send(event(1)), Ok(()));
        assert_eq!(outbox.try_send(event(2)), Ok(()));
        assert_eq!(outbox.try_send(event(3)), Err(Full));
        assert_eq!(outbox.recv().await.id, Some(1));
        assert_eq!(outbox.try_send(event(4)), Ok(()));
        assert_eq!(outbox.recv().await.id, Some(2));
        assert_eq!(outbox.recv().await.id, Some(4));
        assert_eq!(outbox.queue().capacity(), 0, "an emptied queue is freed");
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_on_a_push() {
        let outbox = Arc::new(Outbox::new(4));
        let waiting = tokio::spawn({
            let outbox = outbox.clone();
            async move { outbox.recv().await.id }
        });
        tokio::task::yield_now().await;
        assert_eq!(outbox.try_send(event(9)), Ok(()));
        let got = tokio::time::timeout(Duration::from_secs(5), waiting).await;
        assert!(matches!(got, Ok(Ok(Some(9)))), "{got:?}");
    }

    #[tokio::test]
    async fn a_dropped_wait_loses_no_event() {
        let outbox = Outbox::new(4);
        // A wait given up (as a select! does when another branch wins) before anything came:
        // polled once, so it is waiting, then dropped.
        tokio::select! {
            biased;
            _ = outbox.recv() => panic!("nothing was sent"),
            () = std::future::ready(()) => {}
        }
        assert_eq!(outbox.try_send(event(5)), Ok(()));
        let got = tokio::time::timeout(Duration::from_secs(5), outbox.recv()).await;
        assert_eq!(got.map(|d| d.id), Ok(Some(5)));
    }
}
