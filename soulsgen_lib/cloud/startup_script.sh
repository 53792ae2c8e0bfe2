#!/bin/bash
# SoulsGen GPU training VM, rendered by soulsgen_lib.cloud.gce.render_startup_script.
# Runs one training job in the trainer container, makes sure a _SUCCESS or _FAILED marker
# exists in the bucket, then deletes this VM (the DAG deletes it too, tolerating "not found"; a VM
# whose service account may not delete it powers off). Output: serial console.
set -uo pipefail

IMAGE=@IMAGE@
REGISTRY_HOST=@REGISTRY_HOST@
BUCKET_NAME=@BUCKET_NAME@
FAILED_OBJECT=@FAILED_OBJECT@
REPORTED_FAILURE_EXIT=@REPORTED_FAILURE_EXIT@
JOB=(@JOB_COMMAND@)

log() { echo "soulsgen-trainer: $*"; }

metadata() {
  curl -sf -H 'Metadata-Flavor: Google' "http://metadata.google.internal/computeMetadata/v1/$1"
}

access_token() {
  metadata instance/service-accounts/default/token | sed -E 's/.*"access_token" *: *"([^"]+)".*/\1/'
}

# A stopped VM still bills its disk and is never deleted by its max run duration: delete it outright.
delete_this_vm() {
  local project zone name
  project=$(metadata project/project-id) && zone=$(metadata instance/zone) && name=$(metadata instance/name) ||
    return 1
  curl -sf -X DELETE -H "Authorization: Bearer $(access_token)" \
    "https://compute.googleapis.com/compute/v1/projects/${project}/zones/${zone##*/}/instances/${name}" >/dev/null
}

finish() {
  log "deleting this VM"
  delete_this_vm || { log "could not delete this VM (needs compute.instances.delete): powering off"; shutdown -h now; }
}
trap finish EXIT

# Used only when the job could not write its own marker (no GPU, image pull failed, container crashed).
report_failure() {
  local body
  body=$(printf '{"error": "%s", "stage": "vm"}' "$1")
  curl -sf -X POST -H "Authorization: Bearer $(access_token)" -H 'Content-Type: application/json' \
    --data-binary "$body" \
    "https://storage.googleapis.com/upload/storage/v1/b/${BUCKET_NAME}/o?uploadType=media&name=${FAILED_OBJECT//\//%2F}" \
    >/dev/null || log "could not write gs://${BUCKET_NAME}/${FAILED_OBJECT}"
  exit 1
}

wait_for_gpu() {
  # The Deep Learning VM image installs the NVIDIA driver during the first boot.
  for _ in $(seq 90); do
    nvidia-smi >/dev/null 2>&1 && return 0
    sleep 10
  done
  return 1
}

ensure_docker_with_gpus() {
  if ! command -v docker >/dev/null; then
    apt-get update -q && apt-get install -y -q docker.io || return 1
  fi
  if ! docker info 2>/dev/null | grep -qi nvidia; then
    curl -fsSL https://nvidia.github.io/libnvidia-container/gpgkey |
      gpg --batch --yes --dearmor -o /usr/share/keyrings/nvidia-container-toolkit-keyring.gpg || return 1
    curl -fsSL https://nvidia.github.io/libnvidia-container/stable/deb/nvidia-container-toolkit.list |
      sed 's#deb https://#deb [signed-by=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg] https://#' \
        >/etc/apt/sources.list.d/nvidia-container-toolkit.list || return 1
    apt-get update -q && apt-get install -y -q nvidia-container-toolkit || return 1
    nvidia-ctk runtime configure --runtime=docker && systemctl restart docker || return 1
  fi
}

log "starting: ${IMAGE}"
wait_for_gpu || report_failure "no GPU visible after 15 minutes (driver install failed?)"
ensure_docker_with_gpus || report_failure "could not set up docker with the NVIDIA runtime"
case "$REGISTRY_HOST" in
  *.pkg.dev | gcr.io | *.gcr.io)
    access_token | docker login -u oauth2accesstoken --password-stdin "https://${REGISTRY_HOST}" ||
      report_failure "docker login to ${REGISTRY_HOST} failed: give the VM service account Artifact Registry Reader"
    ;;
esac
docker pull "$IMAGE" || report_failure "could not pull ${IMAGE}"

# Host networking lets the job reach the metadata server for the VM service account's credentials.
docker run --rm --gpus all --network host -e PYTHONUNBUFFERED=1 "$IMAGE" "${JOB[@]}"
status=$?
log "train job exited with ${status}"
if [ "$status" -ne 0 ] && [ "$status" -ne "$REPORTED_FAILURE_EXIT" ]; then
  report_failure "the trainer container exited with ${status}; see the VM serial console"
fi
