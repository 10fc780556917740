//! Server-controlled value sets. Each enum keeps values it does not know in an `Unknown` variant,
//! because extensions and newer Commerce releases add states, statuses and product types.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::serde_helpers::LenientInt;

macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this crate does not know, kept verbatim.
            Unknown(String),
        }

        impl $name {
            /// The code exactly as Commerce writes it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $text, )+
                    Self::Unknown(other) => other,
                }
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $( $text => Self::$variant, )+
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Ok(Self::from(text.as_str()))
            }
        }
    };
}

macro_rules! int_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $code:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A code this crate does not know, kept verbatim.
            Unknown(i64),
        }

        impl $name {
            /// The numeric code exactly as Commerce writes it.
            pub const fn code(self) -> i64 {
                match self {
                    $( Self::$variant => $code, )+
                    Self::Unknown(other) => other,
                }
            }
        }

        impl From<i64> for $name {
            fn from(value: i64) -> Self {
                match value {
                    $( $code => Self::$variant, )+
                    other => Self::Unknown(other),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_i64(self.code())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let LenientInt(code) = LenientInt::deserialize(deserializer)?;
                Ok(Self::from(code))
            }
        }
    };
}

string_enum!(
    /// Order `state`: the workflow position (constants of `Magento\Sales\Model\Order`).
    OrderState {
        /// Placed, nothing invoiced or shipped.
        New => "new",
        /// Waiting for an off-site payment to complete.
        PendingPayment => "pending_payment",
        /// Invoiced or shipped in part.
        Processing => "processing",
        /// Fully invoiced and shipped.
        Complete => "complete",
        /// Refunded in full.
        Closed => "closed",
        /// Cancelled.
        Canceled => "canceled",
        /// On hold.
        Holded => "holded",
        /// Payment under fraud review.
        PaymentReview => "payment_review",
    }
);

string_enum!(
    /// Order `status`: a store-configurable label code mapped onto a state. Stores define their own,
    /// so anything beyond the shipped codes lands in `Unknown`.
    OrderStatus {
        /// Shipped default for `new`.
        Pending => "pending",
        /// Shipped default for `pending_payment`.
        PendingPayment => "pending_payment",
        /// Shipped default for `processing`.
        Processing => "processing",
        /// Shipped default for `complete`.
        Complete => "complete",
        /// Shipped default for `closed`.
        Closed => "closed",
        /// Shipped default for `canceled`.
        Canceled => "canceled",
        /// Shipped default for `holded`.
        Holded => "holded",
        /// Shipped default for `payment_review`.
        PaymentReview => "payment_review",
        /// Suspected fraud.
        Fraud => "fraud",
    }
);

string_enum!(
    /// Catalog product type of a product or an order line.
    ProductType {
        /// A plain product; also the child line of a configurable or bundle.
        Simple => "simple",
        /// A product with selectable options; its order line has one child line (the chosen simple).
        Configurable => "configurable",
        /// A kit of selections; its order line has one child line per selection.
        Bundle => "bundle",
        /// A non-shippable product.
        Virtual => "virtual",
        /// A downloadable product.
        Downloadable => "downloadable",
        /// A group of simple products sold separately.
        Grouped => "grouped",
        /// A gift card (Adobe Commerce).
        GiftCard => "giftcard",
    }
);

string_enum!(
    /// Which role an address plays on an order.
    AddressType {
        /// Billing address.
        Billing => "billing",
        /// Shipping address.
        Shipping => "shipping",
    }
);

int_enum!(
    /// Invoice `state` (`Magento\Sales\Model\Order\Invoice` constants).
    InvoiceState {
        /// Created but not yet captured.
        Open => 1,
        /// Captured.
        Paid => 2,
        /// Cancelled.
        Canceled => 3,
    }
);

int_enum!(
    /// Credit memo `state` (`Magento\Sales\Model\Order\Creditmemo` constants).
    CreditMemoState {
        /// Created, refund pending.
        Open => 1,
        /// Refunded.
        Refunded => 2,
        /// Cancelled.
        Canceled => 3,
    }
);

int_enum!(
    /// Product `status`.
    ProductStatus {
        /// Sellable.
        Enabled => 1,
        /// Not sellable.
        Disabled => 2,
    }
);

int_enum!(
    /// Product `visibility`.
    ProductVisibility {
        /// Not shown on its own (typically a configurable's child).
        NotVisibleIndividually => 1,
        /// Shown in category listings only.
        Catalog => 2,
        /// Shown in search results only.
        Search => 3,
        /// Shown in listings and search.
        CatalogSearch => 4,
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_are_kept() {
        let state: OrderState = serde_json::from_str("\"suspected_fraud_x\"").unwrap();
        assert_eq!(state, OrderState::Unknown("suspected_fraud_x".into()));
        assert_eq!(
            serde_json::to_string(&state).unwrap(),
            "\"suspected_fraud_x\""
        );
        let known: OrderState = serde_json::from_str("\"processing\"").unwrap();
        assert_eq!(known, OrderState::Processing);
        let invoice: InvoiceState = serde_json::from_str("7").unwrap();
        assert_eq!(invoice, InvoiceState::Unknown(7));
        let paid: InvoiceState = serde_json::from_str("\"2\"").unwrap();
        assert_eq!(paid, InvoiceState::Paid);
    }
}
