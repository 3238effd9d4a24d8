# The steller binary: every service of the platform is one of its subcommands.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/steller ./cmd/steller

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/steller /usr/local/bin/steller
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/steller"]
