//! A tonic codec for messages known only at run time: requests are
//! [`DynamicMessage`]s, responses are decoded against the method's output
//! descriptor. A response that does not decode ends the stream with
//! `INTERNAL`, which the transport reports as a malformed message.

use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Status;

/// Encodes requests, decodes responses of `output`.
#[derive(Debug, Clone)]
pub(super) struct DynCodec {
    pub output: MessageDescriptor,
}

impl Codec for DynCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynEncoder;
    type Decoder = DynDecoder;

    fn encoder(&mut self) -> DynEncoder {
        DynEncoder
    }

    fn decoder(&mut self) -> DynDecoder {
        DynDecoder(self.output.clone())
    }
}

#[derive(Debug)]
pub(super) struct DynEncoder;

impl Encoder for DynEncoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn encode(&mut self, item: DynamicMessage, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("cannot encode the request: {e}")))
    }
}

#[derive(Debug)]
pub(super) struct DynDecoder(MessageDescriptor);

impl Decoder for DynDecoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<DynamicMessage>, Status> {
        DynamicMessage::decode(self.0.clone(), src)
            .map(Some)
            .map_err(|e| Status::internal(format!("{MALFORMED} `{}` ({e})", self.0.full_name())))
    }
}

/// How a decode failure's message starts, so the transport can tell it
/// from the server's own `INTERNAL`.
pub(super) const MALFORMED: &str = "a streamed message is not a valid";
