//! Examples of embedding the ml-connector engine.
