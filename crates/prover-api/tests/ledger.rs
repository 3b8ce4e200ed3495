//! The outside provers' part of the job database (`crates/dal/src/provers.rs`), on both
//! backends: registration, single-use challenges, sessions, leases under the policy, fencing
//! tokens, expiry back to the queue, settlement, penalties and the ledger's counts.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod common;

use std::sync::Arc;

use chrono::{Duration as ChronoDuration, Utc};
use common::{batch_id, fake_version, insert_basic_round, local_store, TestDb, VERSION};
use zkfleet_dal::{
    ChallengeCheck, CompleteOutcome, ExtendOutcome, JobRef, LeaseOutcome, LeaseRequest,
    LeaseSettlement, OutsideLease, OutsideProverStatus, ProverJobClass, ProverRegistration,
};
use zkfleet_types::{AggregationRound, CircuitId, JobStatus};

const KEY_A: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const KEY_B: &str = "2222222222222222222222222222222222222222222222222222222222222222";

fn all_basic() -> Vec<(AggregationRound, CircuitId)> {
    CircuitId::BASIC_TYPES
        .iter()
        .map(|&c| (AggregationRound::Basic, c))
        .collect()
}

fn request<'a>(prover: &'a str, allowed: &'a [(AggregationRound, CircuitId)]) -> LeaseRequest<'a> {
    let now = Utc::now();
    LeaseRequest {
        prover,
        version: VERSION,
        allowed,
        max_priority: None,
        share_percent: 100,
        max_job_attempts: 3,
        max_active_leases: 100,
        deadline: now + ChronoDuration::seconds(600),
        now,
    }
}

async fn leased(db: &TestDb, request: &LeaseRequest<'_>) -> OutsideLease {
    match db.dal.lease_prover_job(request).await.expect("lease") {
        LeaseOutcome::Leased(lease) => *lease,
        other => panic!("expected a lease, got {other:?}"),
    }
}

async fn job_status(db: &TestDb, lease: &OutsideLease) -> (JobStatus, u32) {
    let job = db
        .dal
        .job(JobRef::Prover(lease.job.id))
        .await
        .expect("read the job")
        .expect("the job exists");
    (job.status, job.attempts)
}

async fn registration_and_status(db: Arc<TestDb>) {
    let dal = &db.dal;
    assert_eq!(
        dal.register_outside_prover("alice", KEY_A).await.unwrap(),
        ProverRegistration::Inserted
    );
    assert_eq!(
        dal.register_outside_prover("alice", KEY_A).await.unwrap(),
        ProverRegistration::AlreadyPresent
    );
    let other_key = dal
        .register_outside_prover("alice", KEY_B)
        .await
        .unwrap_err();
    assert!(
        other_key.to_string().contains("another public key"),
        "{other_key}"
    );
    let same_key = dal.register_outside_prover("bob", KEY_A).await.unwrap_err();
    assert!(
        same_key
            .to_string()
            .contains("already registered to outside prover alice"),
        "{same_key}"
    );
    dal.register_outside_prover("bob", KEY_B).await.unwrap();
    let listed = dal.outside_provers().await.unwrap();
    assert_eq!(
        listed.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["alice", "bob"]
    );
    assert!(listed
        .iter()
        .all(|p| p.status == OutsideProverStatus::Active));

    assert_eq!(
        dal.set_outside_prover_status("bob", OutsideProverStatus::Suspended, "by the operator")
            .await
            .unwrap(),
        Some(0)
    );
    let bob = dal.outside_prover("bob").await.unwrap().unwrap();
    assert_eq!(bob.status, OutsideProverStatus::Suspended);
    assert_eq!(bob.status_reason.as_deref(), Some("by the operator"));
    assert_eq!(
        dal.set_outside_prover_status("nobody", OutsideProverStatus::Active, "x")
            .await
            .unwrap(),
        None
    );
    assert_eq!(dal.remove_outside_prover("bob").await.unwrap(), Some(0));
    assert!(dal.outside_prover("bob").await.unwrap().is_none());
    assert_eq!(dal.remove_outside_prover("bob").await.unwrap(), None);
}

async fn challenges_are_single_use_and_expire(db: Arc<TestDb>) {
    let dal = &db.dal;
    dal.register_outside_prover("alice", KEY_A).await.unwrap();
    dal.register_outside_prover("bob", KEY_B).await.unwrap();
    let later = Utc::now() + ChronoDuration::seconds(60);
    dal.insert_login_challenge("alice", "c1", later)
        .await
        .unwrap();
    // Another prover cannot use alice's challenge (and does not consume it).
    assert_eq!(
        dal.consume_login_challenge("bob", "c1").await.unwrap(),
        ChallengeCheck::Unknown
    );
    assert_eq!(
        dal.consume_login_challenge("alice", "c1").await.unwrap(),
        ChallengeCheck::Valid
    );
    // Replayed.
    assert_eq!(
        dal.consume_login_challenge("alice", "c1").await.unwrap(),
        ChallengeCheck::Unknown
    );
    let past = Utc::now() - ChronoDuration::seconds(1);
    dal.insert_login_challenge("alice", "c2", past)
        .await
        .unwrap();
    assert_eq!(
        dal.consume_login_challenge("alice", "c2").await.unwrap(),
        ChallengeCheck::Expired
    );

    dal.insert_prover_session("h1", "alice", later)
        .await
        .unwrap();
    dal.insert_prover_session("h2", "alice", past)
        .await
        .unwrap();
    assert_eq!(
        dal.prover_of_session("h1").await.unwrap().unwrap().name,
        "alice"
    );
    assert!(
        dal.prover_of_session("h2").await.unwrap().is_none(),
        "expired session"
    );
    assert!(dal.prover_of_session("nope").await.unwrap().is_none());
    dal.insert_login_challenge("alice", "c3", past)
        .await
        .unwrap();
    assert_eq!(
        dal.purge_expired_prover_logins().await.unwrap(),
        2,
        "c3 and h2"
    );
    // Suspension ends the prover's sessions.
    dal.set_outside_prover_status("alice", OutsideProverStatus::Suspended, "test")
        .await
        .unwrap();
    assert!(dal.prover_of_session("h1").await.unwrap().is_none());
}

async fn leases_follow_the_policy(db: Arc<TestDb>) {
    let store = local_store();
    let dal = &db.dal;
    let jobs = insert_basic_round(dal, &store.store, &fake_version(), 1, 0).await;
    insert_basic_round(dal, &store.store, &fake_version(), 2, 5).await;
    dal.register_outside_prover("alice", KEY_A).await.unwrap();

    // Only circuit 2 allowed: the lease is of circuit 2, picked like a fleet pick.
    let only_two = [(AggregationRound::Basic, CircuitId(2))];
    let lease = leased(&db, &request("alice", &only_two)).await;
    assert_eq!(lease.job.circuit_id, CircuitId(2));
    assert_eq!(
        lease.fencing_token, 1,
        "the token is the job's attempts after the pick"
    );
    assert_eq!(job_status(&db, &lease).await, (JobStatus::InProgress, 1));
    // The batch of priority 5 comes first, as for the fleet...
    assert_eq!(lease.job.meta.batch, batch_id(2));
    // ... unless the policy keeps high-priority batches inside.
    let all = all_basic();
    let mut low = request("alice", &all);
    low.max_priority = Some(0);
    assert_eq!(leased(&db, &low).await.job.meta.batch, batch_id(1));
    // Nothing allowed, or a share of 0: no job.
    assert_eq!(
        dal.lease_prover_job(&request("alice", &[])).await.unwrap(),
        LeaseOutcome::NoJob
    );
    let mut none = request("alice", &all);
    none.share_percent = 0;
    assert_eq!(
        dal.lease_prover_job(&none).await.unwrap(),
        LeaseOutcome::NoJob
    );
    // The share is by job id: with 50 %, only jobs whose id % 100 < 50.
    let mut half = request("alice", &all);
    half.share_percent = 50;
    if let LeaseOutcome::Leased(l) = dal.lease_prover_job(&half).await.unwrap() {
        assert!(l.job.id.0 % 100 < 50);
    }
    // A hoarder gets no more than its limit.
    let mut capped = request("alice", &all);
    capped.max_active_leases = 3;
    let refused = dal.lease_prover_job(&capped).await.unwrap();
    assert!(
        matches!(refused, LeaseOutcome::TooManyLeases { limit: 3, .. }),
        "{refused:?}"
    );
    // Unknown or suspended prover: nothing.
    assert_eq!(
        dal.lease_prover_job(&request("mallory", &all))
            .await
            .unwrap(),
        LeaseOutcome::NotActive
    );
    // Suspension gives every lease back: the jobs are queued again.
    let released = dal
        .set_outside_prover_status("alice", OutsideProverStatus::Suspended, "test")
        .await
        .unwrap();
    assert!(released.unwrap() >= 2, "{released:?}");
    assert_eq!(job_status(&db, &lease).await, (JobStatus::Queued, 1));
    assert_eq!(
        dal.lease_prover_job(&request("alice", &all)).await.unwrap(),
        LeaseOutcome::NotActive
    );
    assert!(jobs >= 6);
}

async fn expiry_requeues_and_fences(db: Arc<TestDb>) {
    let store = local_store();
    let dal = &db.dal;
    insert_basic_round(dal, &store.store, &fake_version(), 1, 0).await;
    dal.register_outside_prover("alice", KEY_A).await.unwrap();
    dal.register_outside_prover("bob", KEY_B).await.unwrap();
    let only_one = [(AggregationRound::Basic, CircuitId(1))];
    let mut expiring = request("alice", &only_one);
    expiring.deadline = Utc::now() - ChronoDuration::seconds(1);
    let lease = leased(&db, &expiring).await;
    // Extending a lease past its deadline does nothing.
    assert!(matches!(
        dal.extend_outside_lease(lease.lease_id, "alice", lease.fencing_token, Utc::now())
            .await
            .unwrap(),
        ExtendOutcome::Closed(_)
    ));
    let expired = dal.expire_outside_leases().await.unwrap();
    assert_eq!(expired.len(), 1);
    assert!(expired[0].requeued);
    assert_eq!(job_status(&db, &lease).await.0, JobStatus::Queued);
    assert_eq!(
        dal.outside_prover_penalties("alice").await.unwrap().missed,
        1
    );
    // The same job is never leased again to the prover that missed it...
    let again = dal
        .lease_prover_job(&request("alice", &only_one))
        .await
        .unwrap();
    if let LeaseOutcome::Leased(l) = &again {
        assert_ne!(l.job.id, lease.job.id);
    }
    // ... a fleet prover (or another outside prover) takes it.
    let fleet = dal
        .pick_prover_job(VERSION, ProverJobClass::Any, &Default::default(), "fleet-1")
        .await
        .unwrap()
        .expect("the fleet picks");
    let bob = match fleet.id == lease.job.id {
        true => None,
        false => Some(leased(&db, &request("bob", &only_one)).await),
    };
    let (holder_attempts, holder) = if fleet.id == lease.job.id {
        (fleet.meta.attempts, "fleet")
    } else {
        let b = bob.as_ref().unwrap();
        assert_eq!(b.job.id, lease.job.id);
        (b.job.meta.attempts, "bob")
    };
    assert_eq!(holder_attempts, 2, "picked again by {holder}");
    // Alice's old token is stale: it extends nothing and requeues nothing.
    let later = Utc::now() + ChronoDuration::seconds(60);
    assert!(matches!(
        dal.extend_outside_lease(lease.lease_id, "alice", lease.fencing_token, later)
            .await
            .unwrap(),
        ExtendOutcome::Closed(_) | ExtendOutcome::Stale
    ));
    let refused = LeaseSettlement::Refused {
        reason: "invalid_proof".into(),
        detail: "test".into(),
        penalized: true,
    };
    assert!(dal
        .settle_outside_lease(lease.lease_id, &refused)
        .await
        .unwrap());
    assert_eq!(
        job_status(&db, &lease).await,
        (JobStatus::InProgress, 2),
        "untouched"
    );
    // Settled once only.
    assert!(!dal
        .settle_outside_lease(lease.lease_id, &refused)
        .await
        .unwrap());
    let penalties = dal.outside_prover_penalties("alice").await.unwrap();
    assert_eq!((penalties.refused, penalties.missed), (1, 1));
    // A wrong token extends nothing.
    if let Some(b) = &bob {
        assert_eq!(
            dal.extend_outside_lease(b.lease_id, "bob", b.fencing_token + 7, later)
                .await
                .unwrap(),
            ExtendOutcome::Stale
        );
        assert!(matches!(
            dal.extend_outside_lease(b.lease_id, "bob", b.fencing_token, later)
                .await
                .unwrap(),
            ExtendOutcome::Extended(_)
        ));
        assert_eq!(
            dal.extend_outside_lease(b.lease_id, "alice", b.fencing_token, later)
                .await
                .unwrap(),
            ExtendOutcome::NotFound,
            "another prover's lease"
        );
    }
}

async fn settlement_and_stats(db: Arc<TestDb>) {
    let store = local_store();
    let dal = &db.dal;
    insert_basic_round(dal, &store.store, &fake_version(), 1, 0).await;
    dal.register_outside_prover("alice", KEY_A).await.unwrap();
    let all = all_basic();
    let first = leased(&db, &request("alice", &all)).await;
    let second = leased(&db, &request("alice", &all)).await;
    // First: accepted after completion.
    assert_eq!(
        dal.claim_job_for_outside_proof(first.job.id, "alice")
            .await
            .unwrap(),
        Some(JobStatus::InProgress)
    );
    let done = dal
        .complete_prover_job(
            first.job.id,
            "proofs/x.bin",
            std::time::Duration::from_secs(2),
        )
        .await
        .unwrap();
    assert!(matches!(done, CompleteOutcome::Completed { .. }));
    let accepted = LeaseSettlement::Accepted {
        proving_ms: 2000,
        earnings: 7,
    };
    assert!(dal
        .settle_outside_lease(first.lease_id, &accepted)
        .await
        .unwrap());
    assert!(
        !dal.settle_outside_lease(first.lease_id, &accepted)
            .await
            .unwrap(),
        "no double pay"
    );
    // Second: refused, its job back in the queue at once.
    let refused = LeaseSettlement::Refused {
        reason: "wrong_public_inputs".into(),
        detail: "a proof of another job".into(),
        penalized: true,
    };
    assert!(dal
        .settle_outside_lease(second.lease_id, &refused)
        .await
        .unwrap());
    assert_eq!(job_status(&db, &second).await.0, JobStatus::Queued);
    // A late proof for a job back in the queue: claimed back to in_progress, then completed.
    assert_eq!(
        dal.claim_job_for_outside_proof(second.job.id, "alice")
            .await
            .unwrap(),
        Some(JobStatus::InProgress)
    );
    dal.record_outside_refusal("alice", None, "malformed_submission", "garbage", false)
        .await
        .unwrap();

    let stats = dal.outside_prover_stats().await.unwrap();
    assert_eq!(stats.len(), 1);
    let alice = &stats[0];
    assert_eq!(alice.name, "alice");
    assert_eq!(
        (alice.leased, alice.accepted, alice.refused, alice.missed),
        (2, 1, 2, 0)
    );
    assert_eq!(alice.earnings, 7);
    assert_eq!(alice.proving_ms, 2000);
    assert_eq!(alice.active_leases, 0);
    assert_eq!(
        alice.refused_by_reason,
        vec![
            ("malformed_submission".to_owned(), 1),
            ("wrong_public_inputs".to_owned(), 1)
        ]
    );
    // Only the penalised refusal counts towards suspension.
    assert_eq!(
        dal.outside_prover_penalties("alice").await.unwrap().refused,
        1
    );
    // The ledger outlives the prover.
    dal.remove_outside_prover("alice").await.unwrap();
    let stats = dal.outside_prover_stats().await.unwrap();
    assert_eq!(stats[0].status, None);
    assert_eq!(stats[0].accepted, 1);
    assert_eq!(
        dal.outside_prover_events(Some("alice"))
            .await
            .unwrap()
            .len(),
        5
    );
}

both_backends!(
    registration_and_status,
    challenges_are_single_use_and_expire,
    leases_follow_the_policy,
    expiry_requeues_and_fences,
    settlement_and_stats,
);
