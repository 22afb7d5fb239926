//! What the transport knows without asking: the standard health and
//! reflection services, compiled from their `.proto` text (as published in
//! grpc/grpc-proto) by protox at first use, and `.proto` files or
//! descriptor sets named in a feed's config.

use prost::Message as _;
use prost_reflect::DescriptorPool;
use std::sync::OnceLock;

/// `grpc/health/v1/health.proto`, without its comments and options.
const HEALTH_PROTO: &str = r#"
syntax = "proto3";
package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse {
  enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
  ServingStatus status = 1;
}
service Health {
  rpc Check(HealthCheckRequest) returns (HealthCheckResponse);
  rpc Watch(HealthCheckRequest) returns (stream HealthCheckResponse);
}
"#;

/// `grpc/reflection/v1/reflection.proto` (v1alpha has the same messages,
/// field for field, under another package), without comments and options.
const REFLECTION_PROTO: &str = r#"
syntax = "proto3";
package grpc.reflection.v1;
message ServerReflectionRequest {
  string host = 1;
  oneof message_request {
    string file_by_filename = 3;
    string file_containing_symbol = 4;
    ExtensionRequest file_containing_extension = 5;
    string all_extension_numbers_of_type = 6;
    string list_services = 7;
  }
}
message ExtensionRequest { string containing_type = 1; int32 extension_number = 2; }
message ServerReflectionResponse {
  string valid_host = 1;
  ServerReflectionRequest original_request = 2;
  oneof message_response {
    FileDescriptorResponse file_descriptor_response = 4;
    ExtensionNumberResponse all_extension_numbers_response = 5;
    ListServiceResponse list_services_response = 6;
    ErrorResponse error_response = 7;
  }
}
message FileDescriptorResponse { repeated bytes file_descriptor_proto = 1; }
message ExtensionNumberResponse { string base_type_name = 1; repeated int32 extension_number = 2; }
message ListServiceResponse { repeated ServiceResponse service = 1; }
message ServiceResponse { string name = 1; }
message ErrorResponse { int32 error_code = 1; string error_message = 2; }
service ServerReflection {
  rpc ServerReflectionInfo(stream ServerReflectionRequest) returns (stream ServerReflectionResponse);
}
"#;

/// Why a description of the services cannot be had.
#[derive(Debug, Clone, thiserror::Error)]
pub(super) enum DescriptorError {
    /// `protox` refused the sources (the message names file and line).
    #[error("{0}")]
    Compile(String),
    /// The compiled files do not form a usable set.
    #[error("the compiled files do not describe a complete set: {0}")]
    Incomplete(String),
    /// A descriptor-set file that cannot be read.
    #[error("cannot read `{path}`: {problem}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        problem: String,
    },
    /// A file that is not a serialized `FileDescriptorSet`.
    #[error("`{path}` is not a FileDescriptorSet ({problem}): write it with `protoc --include_imports --descriptor_set_out`")]
    NotASet {
        /// The file.
        path: String,
        /// The decoder's message.
        problem: String,
    },
    /// A set that misses the files it imports.
    #[error("`{path}` does not describe a complete set of files ({problem}): write it with --include_imports")]
    Partial {
        /// The file.
        path: String,
        /// The pool's message.
        problem: String,
    },
}

/// The health and reflection services' descriptors.
pub(super) fn builtin() -> Result<&'static DescriptorPool, DescriptorError> {
    static POOL: OnceLock<Result<DescriptorPool, DescriptorError>> = OnceLock::new();
    POOL.get_or_init(|| {
        compile_sources(&[
            ("grpc/health/v1/health.proto", HEALTH_PROTO),
            ("grpc/reflection/v1/reflection.proto", REFLECTION_PROTO),
        ])
    })
    .as_ref()
    .map_err(Clone::clone)
}

fn compile_sources(files: &[(&str, &str)]) -> Result<DescriptorPool, DescriptorError> {
    let mut resolver = protox::file::ChainFileResolver::new();
    let sources: Vec<(String, String)> = files
        .iter()
        .map(|(n, s)| (n.to_string(), s.to_string()))
        .collect();
    resolver.add(Sources(sources));
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    for (name, _) in files {
        compiler
            .open_file(name)
            .map_err(|e| DescriptorError::Compile(e.to_string()))?;
    }
    DescriptorPool::decode(compiler.encode_file_descriptor_set().as_slice())
        .map_err(|e| DescriptorError::Incomplete(e.to_string()))
}

struct Sources(Vec<(String, String)>);

impl protox::file::FileResolver for Sources {
    fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
        match self.0.iter().find(|(n, _)| n == name) {
            Some((n, s)) => protox::file::File::from_source(n, s),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}

/// `.proto` files compiled with their imports (looked up in `include`),
/// or an error naming the file and line.
pub(super) fn compile_files(
    files: &[String],
    include: &[String],
) -> Result<DescriptorPool, DescriptorError> {
    let include: Vec<&str> = if include.is_empty() {
        vec!["."]
    } else {
        include.iter().map(String::as_str).collect()
    };
    let set =
        protox::compile(files, include).map_err(|e| DescriptorError::Compile(e.to_string()))?;
    DescriptorPool::from_file_descriptor_set(set)
        .map_err(|e| DescriptorError::Incomplete(e.to_string()))
}

/// A serialized `FileDescriptorSet` file.
pub(super) fn read_descriptor_set(path: &str) -> Result<DescriptorPool, DescriptorError> {
    let bytes = std::fs::read(path).map_err(|e| DescriptorError::Read {
        path: path.to_string(),
        problem: e.to_string(),
    })?;
    let set = prost_types::FileDescriptorSet::decode(bytes.as_slice()).map_err(|e| {
        DescriptorError::NotASet {
            path: path.to_string(),
            problem: e.to_string(),
        }
    })?;
    DescriptorPool::from_file_descriptor_set(set).map_err(|e| DescriptorError::Partial {
        path: path.to_string(),
        problem: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_builtin_services_compile() {
        let pool = super::builtin().unwrap();
        assert!(pool.get_service_by_name("grpc.health.v1.Health").is_some());
        assert!(pool
            .get_message_by_name("grpc.reflection.v1.ServerReflectionResponse")
            .is_some());
    }
}
