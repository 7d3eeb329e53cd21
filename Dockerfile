# forgeproof: a static binary on distroless, running as a non-root user.
#   docker build -t forgeproof .
# deploy/kubernetes/deployment.yaml runs it; deploy/kubernetes_test.go
# checks this file's paths against the repository and that the static
# build works.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/forgeproof ./cmd/forgeproof

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/forgeproof /usr/local/bin/forgeproof
USER 65532:65532
EXPOSE 8443 9090
ENTRYPOINT ["/usr/local/bin/forgeproof"]
CMD ["help"]
