//! Identifier newtypes, so an invoice id can never be passed where an order id is expected.
//!
//! REST answers carry ids as JSON integers; event and webhook payloads carry the same ids as
//! strings (`"entity_id":"3"`). Both decode. Ids serialise as integers.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::serde_helpers::LenientInt;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u64);

        impl $name {
            /// The numeric id as Commerce stores it.
            pub const fn get(self) -> u64 {
                self.0
            }
        }

        impl From<u64> for $name {
            fn from(value: u64) -> Self {
                Self(value)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_u64(self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let LenientInt(raw) = LenientInt::deserialize(deserializer)?;
                u64::try_from(raw).map($name).map_err(|_| {
                    serde::de::Error::custom(format!(
                        concat!("invalid ", stringify!($name), " `{}`: expected a non-negative integer"),
                        raw
                    ))
                })
            }
        }
    };
}

id_type!(
    /// `entity_id` of a sales order (not the customer-facing `increment_id`).
    OrderId
);
id_type!(
    /// `item_id` of an order line; invoice and credit memo lines point at it via `order_item_id`.
    OrderItemId
);
id_type!(
    /// `entity_id` of an invoice.
    InvoiceId
);
id_type!(
    /// `entity_id` of an invoice line.
    InvoiceItemId
);
id_type!(
    /// `entity_id` of a credit memo.
    CreditMemoId
);
id_type!(
    /// `entity_id` of a credit memo line.
    CreditMemoItemId
);
id_type!(
    /// `id` of a registered customer. Guest orders have none.
    CustomerId
);
id_type!(
    /// `id` of an address in a customer's address book.
    CustomerAddressId
);
id_type!(
    /// `entity_id` of an address stored on an order.
    OrderAddressId
);
id_type!(
    /// `store_id` of a store view (`0` is the admin/global scope).
    StoreId
);
id_type!(
    /// `website_id` of a website.
    WebsiteId
);
id_type!(
    /// `id` of a catalog product.
    ProductId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_decode_from_numbers_and_strings() {
        let a: OrderId = serde_json::from_str("3").unwrap();
        let b: OrderId = serde_json::from_str("\"3\"").unwrap();
        assert_eq!(a, b);
        assert_eq!(serde_json::to_string(&a).unwrap(), "3");
        let err = serde_json::from_str::<OrderId>("-1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("OrderId"), "{err}");
    }
}
