//! Long-running changes as explicit state machines with progress events: the guided
//! upgrade and rollback of a Helm release ([`upgrade`]), the release drivers that apply
//! them ([`driver`], [`helm`], [`simulated`]), the lock that keeps two consoles from
//! changing one release at once ([`lock`]) and the journal an interrupted change leaves
//! behind ([`journal`]); why a change's new pods are broken ([`diagnose`]); the blue/green
//! cutover of one Deployment ([`bluegreen`]).

pub mod analysis;
pub mod bluegreen;
pub mod diagnose;
pub mod driver;
pub mod helm;
pub mod journal;
pub mod lock;
pub mod promote;
pub mod simulated;
pub mod upgrade;
