//! Describing a method by asking the server (gRPC server reflection):
//! `grpc.reflection.v1` first, `v1alpha` when the server has only that
//! (many do: grpcio's reflection, older Go and Java servers). The file
//! declaring the service is fetched with every file it imports, then
//! loaded into a descriptor pool.

use super::codec::DynCodec;
use super::protos;
use http::uri::PathAndQuery;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, Value};
use prost_types::FileDescriptorProto;
use std::collections::{BTreeMap, HashSet};
use tonic::client::Grpc;
use tonic::metadata::MetadataMap;
use tonic::transport::Channel;
use tonic::{Code, Status};

const V1: &str = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
const V1ALPHA: &str = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

/// Files fetched at most, against a server that never stops answering.
const MAX_FILES: usize = 256;

/// Why a method could not be described.
#[derive(Debug)]
pub(super) enum Unknown {
    /// The server has no reflection service (either version).
    NoReflection,
    /// The call failed.
    Status(Status),
    /// The server answered something unusable.
    Bad(String),
}

/// The files describing `service`, from the server's reflection.
pub(super) async fn describe(
    channel: Channel,
    metadata: &MetadataMap,
    service: &str,
) -> Result<DescriptorPool, Unknown> {
    let mut grpc = Grpc::new(channel);
    let mut path = V1;
    let mut files: BTreeMap<String, FileDescriptorProto> = BTreeMap::new();
    let mut asked: HashSet<String> = HashSet::new();
    let mut queue = vec![("file_containing_symbol", service.to_string())];
    while let Some((kind, what)) = queue.pop() {
        if files.len() >= MAX_FILES {
            return Err(Unknown::Bad(format!(
                "reflection returned more than {MAX_FILES} files"
            )));
        }
        let answer = match ask(&mut grpc, path, metadata, kind, &what).await {
            Err(s) if s.code() == Code::Unimplemented && path == V1 => {
                path = V1ALPHA;
                queue.push((kind, what));
                continue;
            }
            Err(s) if s.code() == Code::Unimplemented => return Err(Unknown::NoReflection),
            Err(s) => return Err(Unknown::Status(s)),
            Ok(a) => a,
        };
        for file in answer {
            for dep in &file.dependency {
                if !files.contains_key(dep) && asked.insert(dep.clone()) {
                    queue.push(("file_by_filename", dep.clone()));
                }
            }
            files.insert(file.name().to_string(), file);
        }
    }
    let mut pool = DescriptorPool::new();
    pool.add_file_descriptor_protos(files.into_values())
        .map_err(|e| {
            Unknown::Bad(format!(
                "the files reflection returned do not fit together: {e}"
            ))
        })?;
    Ok(pool)
}

/// One reflection request, one answer: the files it carries.
async fn ask(
    grpc: &mut Grpc<Channel>,
    path: &'static str,
    metadata: &MetadataMap,
    kind: &str,
    what: &str,
) -> Result<Vec<FileDescriptorProto>, Status> {
    let pool = protos::builtin().map_err(|e| Status::internal(e.to_string()))?;
    let (Some(req_desc), Some(resp_desc)) = (
        pool.get_message_by_name("grpc.reflection.v1.ServerReflectionRequest"),
        pool.get_message_by_name("grpc.reflection.v1.ServerReflectionResponse"),
    ) else {
        return Err(Status::internal("the reflection descriptors are missing"));
    };
    let mut req = DynamicMessage::new(req_desc);
    req.set_field_by_name(kind, Value::String(what.to_string()));
    let mut request = tonic::Request::new(futures_util::stream::iter([req]));
    *request.metadata_mut() = metadata.clone();
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let response = grpc
        .streaming(
            request,
            PathAndQuery::from_static(path),
            DynCodec { output: resp_desc },
        )
        .await?;
    let mut stream = response.into_inner();
    let answer = stream
        .message()
        .await?
        .ok_or_else(|| Status::unknown("the reflection service answered nothing"))?;
    if answer.has_field_by_name("error_response") {
        return Err(reflection_error(&answer, what));
    }
    let Some(Value::Message(files)) = answer
        .get_field_by_name("file_descriptor_response")
        .map(|v| v.into_owned())
    else {
        return Err(Status::unknown("reflection answered without files"));
    };
    let mut out = Vec::new();
    if let Some(Value::List(list)) = files
        .get_field_by_name("file_descriptor_proto")
        .map(|v| v.into_owned())
    {
        for v in list {
            if let Value::Bytes(b) = v {
                let f = FileDescriptorProto::decode(b.as_ref()).map_err(|e| {
                    Status::unknown(format!("reflection returned an unreadable file: {e}"))
                })?;
                out.push(f);
            }
        }
    }
    Ok(out)
}

/// The status a reflection `error_response` stands for. `UNIMPLEMENTED`
/// there is about the request, not the service, so it must not trigger the
/// v1alpha fallback: it becomes `UNKNOWN`.
fn reflection_error(answer: &DynamicMessage, what: &str) -> Status {
    let err = match answer
        .get_field_by_name("error_response")
        .map(|v| v.into_owned())
    {
        Some(Value::Message(m)) => m,
        _ => return Status::unknown("reflection answered an unreadable error"),
    };
    let code = Code::from_i32(
        err.get_field_by_name("error_code")
            .and_then(|v| v.as_i32())
            .unwrap_or(2),
    );
    let text = err
        .get_field_by_name("error_message")
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    match code {
        Code::NotFound => Status::not_found(format!("the server does not know `{what}` ({text})")),
        Code::Unimplemented => Status::unknown(text),
        other => Status::new(other, text),
    }
}
