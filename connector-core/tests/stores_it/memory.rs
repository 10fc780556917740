use std::sync::Arc;

use connector_core::clock::Clock;
use connector_core::state::MemoryStore;

async fn open(clock: Arc<dyn Clock>) -> MemoryStore {
    MemoryStore::new(clock)
}

connector_core::store_conformance_tests!(open);
