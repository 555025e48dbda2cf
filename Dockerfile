# AuthGate in a container: the static (musl) binary and nothing else. No base image
# is pulled: the image is one file, a data directory and four settings.
#
# Build the static binaries and this context first (target/package/docker/):
#   scripts/package.sh
#   docker build -t authgate .                                   # x86_64
#   docker buildx build --platform linux/arm64 -t authgate .     # aarch64 (Pi 4/5)
# Run (database and signing keys in the volume; the first start prints the admin
# password unless AUTHGATE_ADMIN_PASSWORD is set):
#   docker run -d --name authgate -p 8080:8080 -v authgate-data:/var/lib/authgate \
#     -e AUTHGATE_BASE_URL=http://HOST:8080 authgate
#   docker logs authgate | grep 'admin password'
#   docker exec authgate authgate user list
# scripts/package-test.sh carries these instructions out without a container engine:
# the same files in an otherwise empty root (chroot), as the same user.
FROM scratch
ARG TARGETARCH=amd64
COPY target/package/docker/authgate-${TARGETARCH} /usr/bin/authgate
COPY --chown=65532:65532 target/package/docker/data/ /var/lib/authgate/
ENV PATH=/usr/bin
ENV AUTHGATE_LISTEN=0.0.0.0:8080
ENV AUTHGATE_DATA_DIR=/var/lib/authgate
ENV AUTHGATE_LOG_FORMAT=json
USER 65532:65532
EXPOSE 8080
VOLUME ["/var/lib/authgate"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/authgate"]
CMD ["serve"]
