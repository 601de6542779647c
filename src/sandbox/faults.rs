//! Fault injection for resilience tests: `--faults 5xx=0.05,slow=0.1,slow-ms=1500,drop-watch=0.01`,
//! with `5xx-for-ms=5000` to give the errors an end (an outage, then recovery).

use super::error::ApiError;
use std::time::{Duration, Instant};

/// Rates (0.0–1.0) at which the server misbehaves.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Share of API requests answered with a 500 or 503.
    pub error_rate: f64,
    /// Share of API requests delayed by `slow_ms`.
    pub slow_rate: f64,
    pub slow_ms: u64,
    /// Chance, per event or bookmark tick, that a watch is dropped.
    pub drop_watch_rate: f64,
    /// How long after the server starts `error_rate` applies; always when `None`.
    pub error_for: Option<Duration>,
    /// When the server started serving: set by [`Faults::started`].
    pub since: Option<Instant>,
}

impl Faults {
    /// Parses `key=value` pairs separated by commas.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut f = Faults {
            slow_ms: 2000,
            ..Default::default()
        };
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("fault '{part}' must be key=value"))?;
            let rate = || -> Result<f64, String> {
                let r: f64 = v
                    .parse()
                    .map_err(|_| format!("fault '{k}' needs a number, got '{v}'"))?;
                if (0.0..=1.0).contains(&r) {
                    Ok(r)
                } else {
                    Err(format!("fault '{k}' is a rate from 0 to 1, got {r}"))
                }
            };
            match k {
                "5xx" | "error" => f.error_rate = rate()?,
                "slow" => f.slow_rate = rate()?,
                "slow-ms" => {
                    f.slow_ms = v
                        .parse()
                        .map_err(|_| format!("slow-ms needs milliseconds, got '{v}'"))?
                }
                "drop-watch" => f.drop_watch_rate = rate()?,
                "5xx-for-ms" => {
                    f.error_for =
                        Some(Duration::from_millis(v.parse().map_err(|_| {
                            format!("5xx-for-ms needs milliseconds, got '{v}'")
                        })?))
                }
                _ => {
                    return Err(format!(
                        "unknown fault '{k}' (known: 5xx, 5xx-for-ms, slow, slow-ms, drop-watch)"
                    ));
                }
            }
        }
        Ok(f)
    }

    /// The same faults, their clock started now: the server calls it when it starts.
    pub fn started(self) -> Self {
        Faults {
            since: Some(Instant::now()),
            ..self
        }
    }

    /// Whether errors are still being injected: always, or until `error_for` has passed.
    fn erring(&self) -> bool {
        match (self.error_for, self.since) {
            (Some(window), Some(since)) => since.elapsed() < window,
            _ => true,
        }
    }

    /// Called before each API request: maybe sleeps, maybe fails it.
    pub async fn before_request(&self) -> Option<ApiError> {
        if self.slow_rate > 0.0 && fastrand::f64() < self.slow_rate {
            tokio::time::sleep(Duration::from_millis(self.slow_ms)).await;
        }
        if self.error_rate > 0.0 && self.erring() && fastrand::f64() < self.error_rate {
            return Some(if fastrand::bool() {
                ApiError::internal("injected fault")
            } else {
                ApiError::unavailable(
                    "injected fault: the server is currently unable to handle the request",
                )
            });
        }
        None
    }

    /// Whether to drop a watch now.
    pub fn drop_watch_now(&self) -> bool {
        self.drop_watch_rate > 0.0 && fastrand::f64() < self.drop_watch_rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates_and_refuses_nonsense() {
        let f = Faults::parse("5xx=0.1,slow=0.5,slow-ms=300,drop-watch=0.01").unwrap();
        assert_eq!(f.error_rate, 0.1);
        assert_eq!(f.slow_ms, 300);
        assert!(Faults::parse("5xx=2").is_err());
        assert!(Faults::parse("bogus=0.1").is_err());
        assert!(Faults::parse("5xx").is_err());
        assert!(Faults::parse("5xx-for-ms=soon").is_err());
    }

    #[tokio::test]
    async fn errors_stop_when_their_window_ends() {
        let f = Faults::parse("5xx=1,5xx-for-ms=200").unwrap().started();
        assert!(f.before_request().await.is_some(), "inside the window");
        tokio::time::sleep(Duration::from_millis(250)).await;
        for _ in 0..100 {
            assert!(f.before_request().await.is_none(), "after the window");
        }
        let always = Faults::parse("5xx=1").unwrap().started();
        assert!(always.before_request().await.is_some(), "no window: always");
    }
}
