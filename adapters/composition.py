"""The composition root: builds the whole service from settings, once."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from nacl.signing import SigningKey

from adapters.account_emails import AccountEmails
from adapters.audit.access_log import AccessLog
from adapters.audit.anchoring import Checkpointer
from adapters.audit.checkpoint_stream import KafkaCheckpoints
from adapters.audit.checkpoints import CheckpointFolder
from adapters.audit.replay import Replay
from adapters.audit.signatures import ProtocolVerifier
from adapters.calendars.sync import CalendarSync
from adapters.consultation_parties import ConsultationParties
from adapters.crypto import signing_key
from adapters.crypto.blind_index import BlindIndex
from adapters.crypto.key_binding import bind
from adapters.crypto.keyring import Keyring, KeyringFile
from adapters.crypto.passwords import PyNaClCredentials
from adapters.crypto.practitioner_signing import Ed25519Signer
from adapters.crypto.subject_keys import SubjectKeys, unopened_masters
from adapters.db import Database
from adapters.deadlines import DeadlineWorker
from adapters.eventstore.application import EventStoreApplication, UnitOfWork
from adapters.eventstore.recorder import EventRecorder
from adapters.grants import GrantIndex
from adapters.idempotency import IdempotencyStore
from adapters.mail.folder import MailFolder
from adapters.mail.outbox import MailTransport, Outbox
from adapters.mail.smtp import SmtpRelay
from adapters.migrate import migrate
from adapters.organisation_parents import OrganisationParents
from adapters.patient_registrations import PatientRegistrations
from adapters.readmodels.account_view import SqlAccountView
from adapters.readmodels.analytics import SqlAnalytics
from adapters.readmodels.availability import SqlAvailability
from adapters.readmodels.clinical_record import SqlClinicalRecord
from adapters.readmodels.consents import SqlConsents
from adapters.readmodels.consultation_view import SqlConsultationView
from adapters.readmodels.intake import SqlIntake
from adapters.readmodels.labs import SqlLabs
from adapters.readmodels.on_call import SqlOnCall
from adapters.readmodels.organisation_view import SqlOrganisationView
from adapters.readmodels.patient_card import SqlPatientCard
from adapters.readmodels.patient_directory import SqlPatientDirectory
from adapters.readmodels.prescriptions import SqlPrescriptions
from adapters.readmodels.protocol_view import SqlProtocolView
from adapters.readmodels.record_invitations import SqlPendingInvitations
from adapters.readmodels.rooms import SqlRooms
from adapters.readmodels.rule_sets import SqlRuleSets
from adapters.readmodels.runner import ProjectionRunner
from adapters.readmodels.teleconference_view import SqlTeleconferenceView
from adapters.readmodels.waiting_room import SqlWaitingRoom
from adapters.readmodels.worker import ProjectionWorker
from adapters.relations import RelationIndex
from adapters.rooms import RoomIndex
from adapters.sessions import SessionStore
from adapters.settings import Settings
from adapters.stream.contract import Pseudonyms
from adapters.stream.relay import KafkaRelay
from adapters.throttle import Throttle
from adapters.video import VideoCredentials
from commands.accounts import AccountLookup
from commands.bus import CommandBus
from commands.ports import Ports
from projections.account_view import AccountViewProjection
from projections.analytics import AnalyticsProjection
from projections.availability import AvailabilityProjection
from projections.clinical_record import ClinicalRecordProjection
from projections.consents import ConsentsProjection
from projections.consultation_view import ConsultationViewProjection
from projections.intake import IntakeProjection
from projections.labs import LabsProjection
from projections.on_call import OnCallProjection
from projections.organisation_view import OrganisationViewProjection
from projections.patient_card import PatientCardProjection
from projections.patient_directory import PatientDirectoryProjection
from projections.prescriptions import PrescriptionsProjection
from projections.protocol_view import ProtocolViewProjection
from projections.record_invitations import PendingInvitationsProjection
from projections.rooms import RoomsProjection
from projections.rule_sets import RuleSetsProjection
from projections.teleconference_view import TeleconferenceViewProjection
from projections.waiting_room import WaitingRoomProjection

log = logging.getLogger("telemed")


@dataclass
class Services:
    settings: Settings
    db: Database
    keyring: Keyring
    keys: SubjectKeys
    recorder: EventRecorder
    app: EventStoreApplication
    bus: CommandBus
    directory: SqlPatientDirectory
    runners: dict[str, ProjectionRunner]
    worker: ProjectionWorker
    access_log: AccessLog
    replay: Replay
    keyring_created: bool
    analytics: SqlAnalytics
    pseudonyms: Pseudonyms
    availability: SqlAvailability
    consultations: SqlConsultationView
    teleconferences: SqlTeleconferenceView
    organisations: SqlOrganisationView
    invitations: SqlPendingInvitations
    account_view: SqlAccountView
    patient_cards: SqlPatientCard
    calendar_sync: CalendarSync
    sessions: SessionStore
    throttle: Throttle
    accounts: AccountLookup
    outbox: Outbox
    grants: GrantIndex
    relations: RelationIndex
    checkpoint_key: SigningKey
    parties: ConsultationParties
    organisation_parents: OrganisationParents
    patient_registrations: PatientRegistrations
    checkpoints: Checkpointer
    idempotency: IdempotencyStore
    #: the time commands act at; read models' "now" (cohorts due by now) reads it too
    clock: Callable[[], datetime]
    on_call: SqlOnCall
    deadlines: DeadlineWorker
    waiting_room: SqlWaitingRoom
    protocols: SqlProtocolView
    rule_sets: SqlRuleSets
    #: verifies signed protocols from the stored events
    signatures: ProtocolVerifier
    labs: SqlLabs
    intake: SqlIntake
    consents: SqlConsents
    prescriptions: SqlPrescriptions
    #: video rooms: which room an address opens, the rooms' view, tokens and credentials
    room_index: RoomIndex
    rooms: SqlRooms
    video: VideoCredentials
    #: the clinical part of the patient card, and the index of the record's streams
    clinical_record: SqlClinicalRecord

    def relay(self) -> KafkaRelay:
        """The Kafka relay (``telemed relay``), when a bootstrap server is configured."""
        if not self.settings.kafka_bootstrap:
            raise RuntimeError("TELEMED_KAFKA_BOOTSTRAP is not set")
        return KafkaRelay(
            self.db,
            self.recorder,
            self.app.mapper,
            self.pseudonyms,
            self.settings.kafka_bootstrap,
            partitions=self.settings.kafka_partitions,
            topic_prefix=self.settings.kafka_topic_prefix,
            validate_messages=self.settings.stream_validate,
            prefetch=lambda batch: self.keys.warm(UUID(str(n.originator_id)) for n in batch),
        )

    def bus_uow(self) -> UnitOfWork:
        """A unit of work for reading aggregates (always current: the write model)."""
        return UnitOfWork(self.app, self.keys)

    def patient_exists(self, patient_id: UUID) -> bool:
        return bool(self.recorder.select_events(patient_id, limit=1))

    def start(self) -> None:
        if self.settings.projections == "inprocess":
            self.worker.start()

    def close(self) -> None:
        self.worker.stop()
        self.checkpoints.close()
        self.app.close()
        self.db.close()


def mail_transport(settings: Settings) -> MailTransport:
    """SMTP in production; in the embedded default, a folder of .eml files (development)."""
    if settings.mail == "smtp":
        return SmtpRelay(settings.smtp_host, settings.smtp_port)
    return MailFolder(settings.mail_dir)


def build(
    settings: Settings | None = None, *, clock: Callable[[], datetime] | None = None
) -> Services:
    """``clock``: the time commands act at (the real clock unless a benchmark simulates days)."""
    settings = settings or Settings()
    db = Database(settings.database_url, pool_size=settings.pool_size)
    migrate(db)
    try:  # the keyring must be the one the database was written with
        keyring, created = bind(db, KeyringFile(settings.keyring_path), unopened_masters)
    except Exception:
        db.close()
        raise
    if created:
        log.info("created master keyring at %s (mode 0600)", settings.keyring_path.resolve())
    checkpoint_key, key_created = signing_key.load_or_create(settings.signing_key_file)
    if key_created:
        log.info("created checkpoint signing key at %s", settings.signing_key_file.resolve())
    keys = SubjectKeys(db, keyring)
    recorder = EventRecorder(db, keyring.chain_key)
    app = EventStoreApplication(recorder, keys)
    grants = GrantIndex(db)
    relations = RelationIndex(db)
    directory = SqlPatientDirectory(db, keys, BlindIndex(keyring.index_key))
    pseudonyms = Pseudonyms(keyring.analytics_key)
    analytics = SqlAnalytics(db, pseudonyms)
    availability = SqlAvailability(db, settings.availability_days)
    availability_projection = AvailabilityProjection(availability, settings.availability_days)
    consultations = SqlConsultationView(db)
    teleconferences = SqlTeleconferenceView(db)
    organisations = SqlOrganisationView(db)
    invitations = SqlPendingInvitations(db)
    account_view = SqlAccountView(db)
    patient_cards = SqlPatientCard(db, keys)
    on_call = SqlOnCall(db)
    waiting_room = SqlWaitingRoom(db)
    protocols = SqlProtocolView(db, keys)
    rule_sets = SqlRuleSets(db)
    signer = Ed25519Signer(db, keys)
    labs = SqlLabs(db, keys)
    intake = SqlIntake(db, keys)
    consents = SqlConsents(db)
    prescriptions = SqlPrescriptions(db, keys, BlindIndex(keyring.index_key))
    rooms = SqlRooms(db, keys)
    room_index = RoomIndex(db, _derived(keyring.index_key, "room-pins"))
    clinical_record = SqlClinicalRecord(db, keys)
    runners = {
        PatientDirectoryProjection.name: ProjectionRunner(
            db,
            recorder,
            app.mapper,
            PatientDirectoryProjection(directory),
            directory,
            prefetch=lambda batch: keys.warm(UUID(str(n.originator_id)) for n in batch),
        ),
        AnalyticsProjection.name: ProjectionRunner(
            db,
            recorder,
            app.mapper,
            AnalyticsProjection(analytics),
            analytics,
            prefetch=lambda batch: keys.warm(UUID(str(n.originator_id)) for n in batch),
        ),
        AvailabilityProjection.name: ProjectionRunner(
            db,
            recorder,
            app.mapper,
            availability_projection,
            availability,
            batch_size=500,
        ),
        ConsultationViewProjection.name: ProjectionRunner(
            db,
            recorder,
            app.mapper,
            ConsultationViewProjection(consultations),
            consultations,
            prefetch=lambda batch: keys.warm(UUID(str(n.originator_id)) for n in batch),
        ),
        TeleconferenceViewProjection.name: ProjectionRunner(
            db, recorder, app.mapper, TeleconferenceViewProjection(teleconferences), teleconferences
        ),
        OrganisationViewProjection.name: ProjectionRunner(
            db, recorder, app.mapper, OrganisationViewProjection(organisations), organisations
        ),
        PendingInvitationsProjection.name: ProjectionRunner(
            db,
            recorder,
            app.mapper,
            PendingInvitationsProjection(invitations),
            invitations,
            prefetch=lambda batch: keys.warm(UUID(str(n.originator_id)) for n in batch),
        ),
        AccountViewProjection.name: ProjectionRunner(
            db,
            recorder,
            app.mapper,
            AccountViewProjection(account_view),
            account_view,
            prefetch=lambda batch: keys.warm(UUID(str(n.originator_id)) for n in batch),
        ),
        PatientCardProjection.name: ProjectionRunner(
            db,
            recorder,
            app.mapper,
            PatientCardProjection(patient_cards),
            patient_cards,
            prefetch=lambda batch: keys.warm(UUID(str(n.originator_id)) for n in batch),
        ),
        OnCallProjection.name: ProjectionRunner(
            db,
            recorder,
            app.mapper,
            OnCallProjection(on_call),
            on_call,
            prefetch=lambda batch: keys.warm(UUID(str(n.originator_id)) for n in batch),
        ),
        WaitingRoomProjection.name: ProjectionRunner(
            db,
            recorder,
            app.mapper,
            WaitingRoomProjection(waiting_room),
            waiting_room,
            prefetch=lambda batch: keys.warm(UUID(str(n.originator_id)) for n in batch),
        ),
        ProtocolViewProjection.name: ProjectionRunner(
            db, recorder, app.mapper, ProtocolViewProjection(protocols), protocols
        ),
        RuleSetsProjection.name: ProjectionRunner(
            db, recorder, app.mapper, RuleSetsProjection(rule_sets), rule_sets
        ),
        LabsProjection.name: ProjectionRunner(db, recorder, app.mapper, LabsProjection(labs), labs),
        IntakeProjection.name: ProjectionRunner(
            db, recorder, app.mapper, IntakeProjection(intake), intake
        ),
        ConsentsProjection.name: ProjectionRunner(
            db, recorder, app.mapper, ConsentsProjection(consents), consents
        ),
        PrescriptionsProjection.name: ProjectionRunner(
            db, recorder, app.mapper, PrescriptionsProjection(prescriptions), prescriptions
        ),
        RoomsProjection.name: ProjectionRunner(
            db, recorder, app.mapper, RoomsProjection(rooms), rooms
        ),
        ClinicalRecordProjection.name: ProjectionRunner(
            db, recorder, app.mapper, ClinicalRecordProjection(clinical_record), clinical_record
        ),
    }
    access_log = AccessLog(db, keyring.chain_key)
    outbox = Outbox(db, keys, mail_transport(settings), sender=settings.mail_from)
    sessions = SessionStore(db)
    parties = ConsultationParties(db)
    organisation_parents = OrganisationParents(db)
    patient_registrations = PatientRegistrations(db)
    ports = Ports(
        ties=relations,
        grants=grants,
        credentials=PyNaClCredentials(),
        emails=AccountEmails(db),
        email_index=BlindIndex(keyring.index_key).email,
        mail=outbox,
        sessions=sessions,
        appointments=parties,
        parties=parties,
        organisation_parents=organisation_parents,
        patient_registrations=patient_registrations,
        public_url=settings.public_url,
        signer=signer,
        rooms=room_index,
        clock=clock or (lambda: datetime.now(UTC)),
    )
    bus = CommandBus(lambda: UnitOfWork(app, keys), ports)
    calendar_sync = CalendarSync(
        lambda cls, ident: UnitOfWork(app, keys).find(cls, ident),
        bus.handle,
        recorder,
        horizon_days=settings.availability_days,
    )
    checkpoints = Checkpointer(
        db,
        [recorder, access_log],
        checkpoint_key,
        CheckpointFolder(settings.checkpoint_folder),
        stream=KafkaCheckpoints(settings.kafka_bootstrap, topic_prefix=settings.kafka_topic_prefix)
        if settings.kafka_bootstrap
        else None,
        every_seconds=settings.checkpoint_seconds,
    )
    idempotency = IdempotencyStore(db, keyring.index_key)
    deadlines = DeadlineWorker(on_call, bus.handle, ports.clock)
    worker = ProjectionWorker(
        list(runners.values()),
        recorder,
        access_log,
        chores=[
            calendar_sync.sync_all,
            idempotency.forget_expired,
        ],
        every_tick=[outbox.deliver_due, checkpoints.write_if_due, deadlines.run_due],
        chore_seconds=settings.calendar_sync_seconds,
    )
    accounts = AccountLookup(lambda: UnitOfWork(app, keys), ports)
    return Services(
        settings=settings,
        db=db,
        keyring=keyring,
        keys=keys,
        recorder=recorder,
        app=app,
        bus=bus,
        directory=directory,
        runners=runners,
        worker=worker,
        access_log=access_log,
        replay=Replay(app, recorder),
        keyring_created=created,
        analytics=analytics,
        pseudonyms=pseudonyms,
        availability=availability,
        consultations=consultations,
        teleconferences=teleconferences,
        organisations=organisations,
        invitations=invitations,
        account_view=account_view,
        patient_cards=patient_cards,
        calendar_sync=calendar_sync,
        sessions=sessions,
        throttle=Throttle(db, keyring.index_key),
        accounts=accounts,
        outbox=outbox,
        grants=grants,
        relations=relations,
        checkpoint_key=checkpoint_key,
        parties=parties,
        organisation_parents=organisation_parents,
        patient_registrations=patient_registrations,
        checkpoints=checkpoints,
        idempotency=idempotency,
        clock=ports.clock,
        on_call=on_call,
        deadlines=deadlines,
        waiting_room=waiting_room,
        protocols=protocols,
        rule_sets=rule_sets,
        signatures=ProtocolVerifier(app, recorder, signer),
        labs=labs,
        intake=intake,
        consents=consents,
        prescriptions=prescriptions,
        clinical_record=clinical_record,
        room_index=room_index,
        rooms=rooms,
        video=video_credentials(settings, keyring.index_key),
    )


def _derived(key: bytes, purpose: str) -> bytes:
    """A key for one purpose, derived from a keyring key (HMAC-SHA256 as a PRF)."""
    return hmac.new(key, f"telemed-derived\x00{purpose}".encode(), hashlib.sha256).digest()


def video_credentials(settings: Settings, index_key: bytes) -> VideoCredentials:
    """Secrets from settings; those left empty are derived from the keyring (development)."""
    return VideoCredentials(
        token_key=settings.room_token_key.encode() or _derived(index_key, "room-join-token"),
        pseudonym_key=_derived(index_key, "room-pseudonym"),
        turn_secret=settings.turn_secret or _derived(index_key, "turn").hex(),
        turn_uris=settings.turn_uris,
        turn_minutes=settings.turn_minutes,
        token_minutes=settings.room_token_minutes,
        livekit_url=settings.livekit_url,
        livekit_api_key=settings.livekit_api_key,
        livekit_api_secret=settings.livekit_api_secret or _derived(index_key, "livekit").hex(),
    )
