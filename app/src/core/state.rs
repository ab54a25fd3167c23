//! The one application state: built once at start-up, cloned into every
//! handler and (through Leptos context) every server function.

use std::{sync::Arc, time::Duration};

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::core::{
    Result,
    access::AccessService,
    artifacts::ArtifactService,
    auth::{
        AuthService, SealingKey,
        tokens::{RegistryTokens, TokenSettings},
    },
    cache::ReadCache,
    db::Db,
    events::{AuditLog, EventRecorder},
    immutability::ImmutabilityService,
    jobs::JobService,
    load::Load,
    projects::ProjectService,
    registry::RegistryService,
    replication::ReplicationService,
    retention::RetentionService,
    robots::RobotService,
    settings::SettingsService,
    storage::{self, BlobStore, StorageSettings},
    system::SystemService,
    users::{AdminBootstrap, PasswordHasherPool, UserService},
};

/// What the core needs to start, already validated by the configuration layer.
#[derive(Clone, Debug)]
pub struct CoreSettings {
    pub database_url: String,
    pub storage: StorageSettings,
    /// The first administrator's password; generated when `None`.
    pub admin_password: Option<String>,
    pub session_ttl: Duration,
    /// Mark cookies `Secure` (Berth is reached over HTTPS).
    pub secure_cookies: bool,
    /// `scheme://host[:port]` of the external URL, accepted as a request origin.
    pub external_origin: String,
    /// Largest manifest body the registry accepts.
    pub max_manifest_bytes: usize,
    /// How long a registry token from the token service stays valid.
    pub token_lifetime: Duration,
    /// Check whole-blob reads against their digest as they stream.
    pub verify_reads: bool,
    /// How long an unreferenced blob link is kept after it was last used.
    pub link_window: Duration,
}

/// Settings read by the HTTP edge at request time.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    pub secure_cookies: bool,
    pub external_origin: String,
}

impl HttpSettings {
    /// `host[:port]` clients put in front of repository names.
    pub fn registry_host(&self) -> &str {
        self.external_origin.split_once("://").map_or(self.external_origin.as_str(), |(_, host)| host)
    }
}

/// Everything a request may need, shared by every handler. A handle:
/// handlers get a clone per request, which costs one reference count.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The portal's server-side rendering reads its options from the state.
impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The services and settings behind an [`AppState`].
pub struct Services {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub auth: AuthService,
    pub users: UserService,
    pub access: AccessService,
    pub projects: ProjectService,
    pub robots: RobotService,
    pub audit: AuditLog,
    pub settings: SettingsService,
    pub tokens: RegistryTokens,
    pub system: SystemService,
    pub blobs: Arc<dyn BlobStore>,
    pub registry: RegistryService,
    pub artifacts: ArtifactService,
    pub jobs: JobService,
    pub replication: ReplicationService,
    pub immutability: ImmutabilityService,
    pub retention: RetentionService,
    pub events: EventRecorder,
    /// Requests this node is serving (background work paces itself by it).
    pub load: Load,
    pub http: Arc<HttpSettings>,
}

/// A started core and what the first start did about the administrator.
pub struct Started {
    pub state: AppState,
    pub admin: AdminBootstrap,
}

impl AppState {
    /// Connects and migrates the database (aborting on failure), opens storage
    /// and makes sure an administrator exists.
    pub async fn start(settings: CoreSettings, leptos_options: LeptosOptions) -> Result<Started> {
        let db = Db::connect(&settings.database_url).await?;
        db.migrate().await?;
        let events = EventRecorder::start(db.clone());
        let blobs = storage::open(&settings.storage).await?;
        let system_settings = SettingsService::new(db.clone());
        let hasher = PasswordHasherPool::default();
        let auth =
            AuthService::new(db.clone(), hasher.clone(), settings.session_ttl, events.clone(), system_settings.clone());
        let users = UserService::new(db.clone(), hasher, system_settings.clone());
        let admin = users.bootstrap_admin(settings.admin_password).await?;
        let http = HttpSettings { secure_cookies: settings.secure_cookies, external_origin: settings.external_origin };
        let token_settings = TokenSettings {
            issuer: http.external_origin.clone(),
            service: http.registry_host().to_owned(),
            lifetime: settings.token_lifetime,
        };
        let tokens = RegistryTokens::load_or_create(&db, token_settings).await?;
        let cache = ReadCache::start(&db);
        let access = AccessService::new(db.clone(), cache.clone());
        let registry =
            RegistryService::new(db.clone(), blobs.clone(), events.clone(), cache, settings.max_manifest_bytes)
                .verifying_reads(settings.verify_reads)
                .keeping_links_for(settings.link_window);
        let jobs = JobService::new(db.clone());
        let projects = ProjectService::new(db.clone(), access.clone(), system_settings.clone());
        let immutability = ImmutabilityService::new(db.clone(), access.clone());
        let artifacts = ArtifactService::new(
            db.clone(),
            access.clone(),
            projects.clone(),
            registry.clone(),
            immutability.clone(),
            http.registry_host().to_owned(),
        );
        let replication = ReplicationService::new(
            db.clone(),
            SealingKey::new(db.clone()),
            registry.clone(),
            access.clone(),
            jobs.clone(),
        );
        let retention =
            RetentionService::new(db.clone(), access.clone(), jobs.clone(), registry.clone(), immutability.clone());
        // Pushes and deletes here reach event-based replication policies.
        registry.listen(Arc::new(replication.event_trigger()));
        let state = AppState(Arc::new(Services {
            leptos_options,
            system: SystemService::new(db.clone(), blobs.clone()),
            registry,
            artifacts,
            robots: RobotService::new(db.clone(), access.clone()),
            jobs,
            replication,
            retention,
            immutability,
            load: Load::default(),
            audit: AuditLog::new(db.clone(), access.clone()),
            settings: system_settings.clone(),
            access: access.clone(),
            projects,
            tokens,
            events,
            blobs,
            db,
            auth,
            users,
            http: Arc::new(http),
        }));
        Ok(Started { state, admin })
    }
}
