//! Business objects end to end: typed documents go through the real `SysproClient` to wiremock
//! on 127.0.0.1, and the tests read back what the client sent (decoded `XmlIn` and
//! `XmlParameters`) and what it made of SYSPRO's answers.

mod documents;
mod gltrn;
mod parsers_prop;
mod queries;
mod support;
