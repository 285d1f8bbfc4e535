//! The Stripe events LSN acts on, decoded with serde into types (the fields LSN reads, with
//! Stripe's names), so a handler reads `intent.amount_received`, never `obj["…"]`.
//!
//! Decoding is checked where an event arrives: a handled event whose object does not decode
//! (an amount that is not a whole number, an id that is not a string) is refused as
//! `malformed_event` before anything is written. Fields Stripe may leave out are optional and
//! read with the same defaults as before (a missing `amount_received` is no proof of payment).

use serde::Deserialize;
use serde_json::Value;

/// The envelope of every event: `{"id", "type", "created", "data": {"object": {…}}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub created: i64,
    pub data: Data,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Data {
    pub object: serde_json::Map<String, Value>,
}

/// `payment_intent.*`'s object.
#[derive(Debug, Clone, Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    #[serde(default)]
    pub amount_received: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub last_payment_error: Option<PaymentError>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub decline_code: Option<String>,
}

/// `charge.refunded`'s object.
#[derive(Debug, Clone, Deserialize)]
pub struct Charge {
    #[serde(default)]
    pub payment_intent: Option<String>,
    #[serde(default)]
    pub amount_refunded: Option<i64>,
}

/// `charge.dispute.*`'s object.
#[derive(Debug, Clone, Deserialize)]
pub struct Dispute {
    pub id: String,
    #[serde(default)]
    pub payment_intent: Option<String>,
    #[serde(default)]
    pub amount: Option<i64>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

/// An event LSN acts on.
#[derive(Debug, Clone)]
pub enum Event {
    PaymentSucceeded(PaymentIntent),
    PaymentFailed(PaymentIntent),
    ChargeRefunded(Charge),
    DisputeCreated(Dispute),
    DisputeClosed(Dispute),
}

/// The types [`Event::decode`] knows; every other type is recorded and ignored.
pub const HANDLED: &[&str] =
    &["payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded", "charge.dispute.created", "charge.dispute.closed"];

impl Event {
    /// `Ok(None)`: a type LSN does not act on. `Err`: a handled type whose object does not
    /// decode.
    pub fn decode(kind: &str, object: &serde_json::Map<String, Value>) -> Result<Option<Event>, serde_json::Error> {
        fn de<T: serde::de::DeserializeOwned>(object: &serde_json::Map<String, Value>) -> Result<T, serde_json::Error> {
            T::deserialize(Value::Object(object.clone()))
        }
        Ok(Some(match kind {
            "payment_intent.succeeded" => Event::PaymentSucceeded(de(object)?),
            "payment_intent.payment_failed" => Event::PaymentFailed(de(object)?),
            "charge.refunded" => Event::ChargeRefunded(de(object)?),
            "charge.dispute.created" => Event::DisputeCreated(de(object)?),
            "charge.dispute.closed" => Event::DisputeClosed(de(object)?),
            _ => return Ok(None),
        }))
    }

    /// The payment intent the event is about (for a charge or dispute, the one it belongs to).
    pub fn intent(&self) -> Option<&str> {
        match self {
            Event::PaymentSucceeded(i) | Event::PaymentFailed(i) => Some(&i.id),
            Event::ChargeRefunded(c) => c.payment_intent.as_deref(),
            Event::DisputeCreated(d) | Event::DisputeClosed(d) => d.payment_intent.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn decodes_what_lsn_reads_and_refuses_what_it_cannot() {
        let ok = Event::decode(
            "payment_intent.succeeded",
            &object(json!({"id": "pi_1", "object": "payment_intent", "amount_received": 4900, "currency": "aud", "extra": [1, 2]})),
        )
        .expect("decodes");
        let Some(Event::PaymentSucceeded(i)) = &ok else { panic!("{ok:?}") };
        assert_eq!((i.id.as_str(), i.amount_received, i.currency.as_deref()), ("pi_1", Some(4900), Some("aud")));
        assert_eq!(ok.as_ref().and_then(Event::intent), Some("pi_1"));
        // Left out: no amount, which is no proof of payment.
        let Some(Event::PaymentSucceeded(i)) = Event::decode("payment_intent.succeeded", &object(json!({"id": "pi_2"}))).expect("decodes")
        else {
            panic!("a payment intent")
        };
        assert_eq!(i.amount_received, None);
        let failed = Event::decode(
            "payment_intent.payment_failed",
            &object(json!({"id": "pi_3", "last_payment_error": {"decline_code": "insufficient_funds"}})),
        );
        assert!(matches!(
            failed,
            Ok(Some(Event::PaymentFailed(PaymentIntent { last_payment_error: Some(PaymentError { decline_code: Some(_), .. }), .. })))
        ));
        let d = Event::decode("charge.dispute.created", &object(json!({"id": "dp_1", "payment_intent": "pi_1", "amount": 100})))
            .expect("dispute");
        assert_eq!(d.as_ref().and_then(Event::intent), Some("pi_1"));
        // Not acted on: recorded and ignored.
        assert!(Event::decode("customer.created", &object(json!({"id": 7}))).expect("ignored").is_none());
        // Acted on but not decodable: refused.
        assert!(Event::decode("payment_intent.succeeded", &object(json!({"id": "pi_4", "amount_received": "4900"}))).is_err());
        assert!(Event::decode("payment_intent.succeeded", &object(json!({"id": "pi_5", "amount_received": 1e30}))).is_err());
        assert!(Event::decode("charge.dispute.closed", &object(json!({"status": "won"}))).is_err(), "a dispute needs its id");
        assert!(Event::decode("charge.refunded", &object(json!({"payment_intent": 12}))).is_err());
    }
}
