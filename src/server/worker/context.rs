//! A connection's decisions: who may publish or play what, and its role in the hub.
//!
//! Kept apart from the worker's session and buffers so events borrowed from the session can
//! be handled while this is mutated.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use log::{debug, info, warn};

use crate::rtmp::session::{FANOUT_STREAM_ID, SessionEvent, StreamRole};
use crate::server::close_reason::CloseReason;
use crate::server::connection_slot::{ConnectionSlot, PlayerSlot};
use crate::server::frame::Frame;
use crate::server::hub::{
    Delivery, Doorbell, Ended, JoinError, Publication, PublishError, PublisherInfo, QueueLimits,
    SubscriberKind, Subscription,
};
use crate::server::keys::split_name;
use crate::server::settings::Settings;
use crate::server::shared::Shared;
use crate::server::stats::{ConnectionRole, Limit};

/// What the session must do after an event, decided while the event borrows the session.
pub(super) enum Action {
    AcceptPublish(u32),
    RejectPublish(u32, &'static str),
    AcceptPlay(u32),
    RejectPlay(u32, &'static str, &'static str),
}

/// How a refused play is answered.
const PLAY_FAILED: &str = "NetStream.Play.Failed";
/// How a play of a stream that does not exist (or not in time) is answered.
pub(super) const STREAM_NOT_FOUND: &str = "NetStream.Play.StreamNotFound";

/// Where this connection stands in the hub; its handle leaves the hub when dropped.
enum Role {
    Undecided,
    Publisher {
        publication: Publication,
        frames: u64,
    },
    Player {
        subscription: Subscription,
        stream_id: u32,
        frames: u64,
        /// Since when it waits for a publisher, if the stream is not live.
        waiting_since: Option<Instant>,
        _slot: PlayerSlot,
    },
}

impl Role {
    fn counted_as(&self) -> ConnectionRole {
        match self {
            Role::Undecided => ConnectionRole::Connecting,
            Role::Publisher { .. } => ConnectionRole::Publisher,
            Role::Player { .. } => ConnectionRole::Player,
        }
    }
}

/// Everything of a connection but its session and buffers.
pub(super) struct Context {
    pub(super) id: u64,
    pub(super) peer: SocketAddr,
    pub(super) shared: Arc<Shared>,
    /// The settings in force when the connection was accepted.
    pub(super) settings: Arc<Settings>,
    pub(super) doorbell: Arc<Doorbell>,
    role: Role,
    app: String,
    pub(super) closing: Option<CloseReason>,
    _slot: ConnectionSlot,
}

impl Context {
    pub(super) fn new(
        id: u64,
        peer: SocketAddr,
        shared: Arc<Shared>,
        settings: Arc<Settings>,
        doorbell: Arc<Doorbell>,
        slot: ConnectionSlot,
    ) -> Self {
        shared.add_doorbell(id, doorbell.clone());
        shared.stats.accepted();
        Context {
            id,
            peer,
            shared,
            settings,
            doorbell,
            role: Role::Undecided,
            app: String::new(),
            closing: None,
            _slot: slot,
        }
    }

    pub(super) fn is_player(&self) -> bool {
        matches!(self.role, Role::Player { .. })
    }

    pub(super) fn subscription(&self) -> Option<&Subscription> {
        match &self.role {
            Role::Player { subscription, .. } => Some(subscription),
            _ => None,
        }
    }

    /// The publisher that took this connection's stream over, if one did.
    pub(super) fn taken_over_by(&self) -> Option<PublisherInfo> {
        match &self.role {
            Role::Publisher { publication, .. } => publication.taken_over_by(),
            _ => None,
        }
    }

    /// Since when a player waits for its stream to go live, if it does.
    pub(super) fn waiting_since(&self) -> Option<Instant> {
        match &self.role {
            Role::Player { waiting_since, .. } => *waiting_since,
            _ => None,
        }
    }

    pub(super) fn player_stream_id(&self) -> Option<u32> {
        match &self.role {
            Role::Player { stream_id, .. } => Some(*stream_id),
            _ => None,
        }
    }

    /// "connection", or what it published or played, for the close line.
    pub(super) fn describe_role(&self) -> String {
        match &self.role {
            Role::Undecided => "connection".to_string(),
            Role::Publisher {
                publication,
                frames,
            } => format!(
                "publisher of {} ({frames} frames)",
                publication.stream().name()
            ),
            Role::Player {
                subscription,
                frames,
                ..
            } => format!(
                "player of {} ({frames} frames)",
                subscription.stream().name()
            ),
        }
    }

    fn set_role(&mut self, role: Role) {
        let stats = &self.shared.stats;
        stats.left(self.role.counted_as());
        stats.open_as(role.counted_as());
        self.role = role;
    }

    pub(super) fn on_event(&mut self, event: SessionEvent<'_>) -> Option<Action> {
        match event {
            SessionEvent::HandshakeDone { .. } => None,
            SessionEvent::Connected { app } => {
                self.app = app.to_string();
                debug!("{} {} connected to app {app:?}", self.id, self.peer);
                None
            }
            SessionEvent::PublishRequested { stream_id, name } => {
                Some(self.publish(stream_id, name))
            }
            SessionEvent::PlayRequested { stream_id, name } => Some(self.play(stream_id, name)),
            SessionEvent::Media(media) => {
                if let Role::Publisher {
                    publication,
                    frames,
                } = &mut self.role
                {
                    let frame = Frame::from_media(&media);
                    if let Some(seen) = publication.push(frame, Instant::now()) {
                        self.shared.stats.hit(Limit::GopCache);
                        info!(
                            "{} {} gop of {seen} bytes over the gop cache limit {}: \
                             players joining now wait for the next keyframe",
                            self.id,
                            self.peer,
                            publication.stream().limits().gop_cache_bytes
                        );
                    }
                    *frames += 1;
                }
                None
            }
            SessionEvent::StreamClosed { stream_id, role } => {
                debug!(
                    "{} {} stream {stream_id} closed ({role:?})",
                    self.id, self.peer
                );
                if matches!(role, StreamRole::Publishing | StreamRole::Playing) {
                    self.leave_hub();
                }
                None
            }
        }
    }

    /// Whether `app` is one this server serves; logs a refusal naming it when not.
    fn app_served(&self, what: &str) -> bool {
        if self.settings.apps.contains(&self.app) {
            return true;
        }
        warn!(
            "{} {} {what} refused: unknown app {:?} (served: {})",
            self.id,
            self.peer,
            self.app,
            self.settings.apps.join(", ")
        );
        false
    }

    /// Which stream a `publish` of `name` is for: `KEY` (the key where encoders put it), or
    /// `NAME?key=KEY`. None when the key publishes no stream (or not that one).
    fn published_stream(&self, name: &str) -> Option<String> {
        let keys = &self.settings.keys;
        match split_name(name) {
            (stream, Some(key)) => keys.publishes(stream, key).then(|| stream.to_string()),
            (key, None) => keys.stream_for_key(key).map(str::to_string),
        }
    }

    fn publish(&mut self, stream_id: u32, name: &str) -> Action {
        if !matches!(self.role, Role::Undecided) {
            return Action::RejectPublish(stream_id, "this connection already publishes or plays");
        }
        if !self.app_served("publish") {
            return Action::RejectPublish(stream_id, "unknown application");
        }
        let Some(stream) = self.published_stream(name) else {
            // Never the key in the log, not even a wrong one: it may be a typo of a real one.
            warn!(
                "{} {} publish refused: wrong stream key ({} characters)",
                self.id,
                self.peer,
                split_name(name).0.chars().count()
            );
            return Action::RejectPublish(stream_id, "wrong stream key");
        };
        let hub_name = format!("{}/{stream}", self.app);
        let me = PublisherInfo {
            id: self.id,
            peer: self.peer,
        };
        let published =
            self.shared
                .hub
                .publish(&hub_name, me, self.doorbell.clone(), self.settings.takeover);
        match published {
            Ok((publication, replaced)) => {
                match replaced {
                    Some(old) => info!(
                        "{} {} publishing {hub_name}, taking it over from {} {}",
                        self.id, self.peer, old.id, old.peer
                    ),
                    None => info!("{} {} publishing {hub_name}", self.id, self.peer),
                }
                self.set_role(Role::Publisher {
                    publication,
                    frames: 0,
                });
                Action::AcceptPublish(stream_id)
            }
            Err(PublishError::AlreadyLive { by }) => {
                warn!(
                    "{} {} publish refused: {hub_name} is already live (publisher {} {}; \
                     --publisher-takeover is off)",
                    self.id, self.peer, by.id, by.peer
                );
                Action::RejectPublish(stream_id, "stream is already live")
            }
        }
    }

    fn play(&mut self, stream_id: u32, name: &str) -> Action {
        let (stream_name, key) = split_name(name);
        if !matches!(self.role, Role::Undecided) {
            return Action::RejectPlay(
                stream_id,
                PLAY_FAILED,
                "this connection already publishes or plays",
            );
        }
        if stream_id != FANOUT_STREAM_ID {
            return Action::RejectPlay(stream_id, PLAY_FAILED, "play only on the first stream");
        }
        if !self.app_served("play") {
            return Action::RejectPlay(stream_id, STREAM_NOT_FOUND, "unknown application");
        }
        if !self.settings.keys.play_allowed(stream_name, key) {
            warn!(
                "{} {} play refused: wrong or missing play key",
                self.id, self.peer
            );
            return Action::RejectPlay(
                stream_id,
                "NetStream.Play.BadName",
                "wrong or missing play key",
            );
        }
        // Only configured names: playing a publish key, or any other name, finds nothing.
        if !self.settings.keys.is_stream(stream_name) {
            info!(
                "{} {} play refused: no stream named {:?}",
                self.id,
                self.peer,
                if stream_name.len() <= 64 {
                    stream_name
                } else {
                    "(long name)"
                }
            );
            return Action::RejectPlay(stream_id, STREAM_NOT_FOUND, "no such stream");
        }
        let limits = &self.settings.limits;
        let Some(slot) = PlayerSlot::take(&self.shared, limits.max_players) else {
            warn!(
                "{} {} play refused: {} players, limit {} (--max-players)",
                self.id, self.peer, limits.max_players, limits.max_players
            );
            return Action::RejectPlay(stream_id, PLAY_FAILED, "too many players");
        };
        let queue = QueueLimits {
            len: limits.player_queue_len,
            bytes: limits.player_queue_bytes,
            slow_after: limits.slow_player,
        };
        let hub_name = format!("{}/{stream_name}", self.app);
        let joined = self.shared.hub.subscribe(
            &hub_name,
            self.id,
            SubscriberKind::Player,
            queue,
            self.doorbell.clone(),
        );
        match joined {
            Ok(subscription) => {
                if let Err(error) = super::scheduling::batch_this_thread() {
                    debug!("{} {} SCHED_BATCH refused: {error}", self.id, self.peer);
                }
                let live = subscription.live_at_join();
                info!(
                    "{} {} playing {} ({} backlog frames{})",
                    self.id,
                    self.peer,
                    subscription.stream().name(),
                    subscription.backlog_len(),
                    if live {
                        ""
                    } else {
                        ", waiting for a publisher"
                    }
                );
                self.set_role(Role::Player {
                    subscription,
                    stream_id,
                    frames: 0,
                    waiting_since: (!live).then(Instant::now),
                    _slot: slot,
                });
                Action::AcceptPlay(stream_id)
            }
            Err(JoinError::TooManyPlayers { limit }) => {
                self.shared.stats.hit(Limit::MaxPlayersPerStream);
                warn!(
                    "{} {} play refused: stream has {limit} players",
                    self.id, self.peer
                );
                Action::RejectPlay(stream_id, PLAY_FAILED, "too many players")
            }
        }
    }

    /// The next thing to send to a player, with the message stream it goes on.
    pub(super) fn next_delivery(&mut self) -> Result<Option<(Delivery, u32)>, CloseReason> {
        let Role::Player {
            subscription,
            stream_id,
            frames,
            waiting_since,
            ..
        } = &mut self.role
        else {
            return Ok(None);
        };
        match subscription.try_next() {
            Ok(Some(delivery)) => {
                match delivery {
                    Delivery::Frame(_) => *frames += 1,
                    Delivery::Published => *waiting_since = None,
                    Delivery::Unpublished => *waiting_since = Some(Instant::now()),
                }
                Ok(Some((delivery, *stream_id)))
            }
            Ok(None) => Ok(None),
            Err(Ended::Evicted(eviction)) => Err(CloseReason::SlowPlayer(eviction)),
            Err(Ended::Removed) => Err(CloseReason::StreamRemoved),
        }
    }

    /// Why the hub cut this player off, if it did.
    pub(super) fn evicted(&self) -> Option<CloseReason> {
        self.subscription()?.eviction().map(CloseReason::SlowPlayer)
    }

    fn leave_hub(&mut self) {
        if let Role::Publisher {
            publication,
            frames,
        } = &self.role
        {
            info!(
                "{} {} unpublished {} after {frames} frames",
                self.id,
                self.peer,
                publication.stream().name()
            );
        }
        // Dropping the old role's handle leaves the hub.
        self.set_role(Role::Undecided);
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        self.leave_hub();
        self.shared.stats.left(ConnectionRole::Connecting);
        self.shared.remove_doorbell(self.id);
    }
}
